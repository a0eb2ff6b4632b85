// doteval view: draw every chart of the page with vega-embed. A chart is a
// <div data-chart="ID"> next to <script type="application/json" id="ID"> holding its
// Vega-Lite specification; everything runs offline (no actions menu, no loader).
(function () {
  "use strict";
  function draw() {
    if (typeof window.vegaEmbed !== "function") { return; }
    document.querySelectorAll("[data-chart]").forEach(function (target) {
      if (target.getAttribute("data-drawn") === "1") { return; }
      var source = document.getElementById(target.getAttribute("data-chart"));
      if (!source) { return; }
      target.setAttribute("data-drawn", "1");
      window.vegaEmbed(target, JSON.parse(source.textContent), {
        actions: false, renderer: "svg"
      }).catch(function (error) {
        target.textContent = "The chart could not be drawn: " + error;
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
  document.addEventListener("doteval:refreshed", draw);
})();
