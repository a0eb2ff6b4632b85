// doteval report: filter the item table of a one-file report in the browser (the
// report has no server): errors only, a score equal to a value, and a text search.
(function () {
  "use strict";
  function apply(form) {
    var table = document.getElementById(form.getAttribute("data-table"));
    var errors = form.elements.errors.checked;
    var retried = form.elements.retried.checked;
    var score = form.elements.score ? form.elements.score.value : "";
    var value = form.elements.value ? form.elements.value.value.trim().toLowerCase() : "";
    var text = form.elements.q.value.trim().toLowerCase();
    var shown = 0;
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      var keep = true;
      if (errors && row.getAttribute("data-error") !== "1") { keep = false; }
      if (keep && retried && parseInt(row.getAttribute("data-attempts"), 10) <= 1) { keep = false; }
      if (keep && score && value) {
        var scores = JSON.parse(row.getAttribute("data-scores") || "{}");
        keep = Object.prototype.hasOwnProperty.call(scores, score) &&
          String(scores[score]).toLowerCase() === value;
      }
      if (keep && text && row.textContent.toLowerCase().indexOf(text) < 0) { keep = false; }
      row.hidden = !keep;
      if (keep) { shown += 1; }
    });
    var count = document.getElementById(form.getAttribute("data-count"));
    if (count) { count.textContent = shown + " shown"; }
  }
  document.querySelectorAll("form[data-table]").forEach(function (form) {
    form.addEventListener("input", function () { apply(form); });
    form.addEventListener("submit", function (event) { event.preventDefault(); apply(form); });
  });
})();
