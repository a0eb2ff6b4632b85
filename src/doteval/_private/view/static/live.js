// doteval view: while the page shows a running evaluation, fetch it again every two
// seconds and swap in the regions marked data-live, so the page doubles as a live
// dashboard. Pages work without this script; it only keeps them fresh.
(function () {
  "use strict";
  var INTERVAL = 2000;
  function running(root) {
    return root.querySelector('[data-status="running"]') !== null;
  }
  function schedule() {
    window.setTimeout(refresh, INTERVAL);
  }
  function refresh() {
    fetch(window.location.href, { headers: { "X-Doteval-Live": "1" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (region) {
          var replacement = fresh.getElementById(region.id);
          if (replacement) { region.replaceWith(document.adoptNode(replacement)); }
        });
        document.dispatchEvent(new CustomEvent("doteval:refreshed"));
        if (running(document)) { schedule(); }
      })
      .catch(schedule);
  }
  if (running(document)) { schedule(); }
})();
