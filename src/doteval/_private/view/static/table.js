// doteval view: click a column header marked data-sort to sort the rows shown (the
// server pages by item id; this sorts within the page). Cells may carry data-value.
(function () {
  "use strict";
  function key(cell, numeric) {
    var text = cell.getAttribute("data-value");
    if (text === null) { text = cell.textContent.trim(); }
    if (numeric) {
      var number = parseFloat(text);
      return isNaN(number) ? -Infinity : number;
    }
    return text.toLowerCase();
  }
  function sort(header) {
    var table = header.closest("table");
    var body = table.tBodies[0];
    var index = Array.prototype.indexOf.call(header.parentNode.children, header);
    var numeric = header.getAttribute("data-sort") === "number";
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[index], numeric), y = key(b.cells[index], numeric);
      return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
    });
    table.querySelectorAll("th[aria-sort]").forEach(function (other) {
      other.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.addEventListener("click", function (event) {
    var header = event.target.closest && event.target.closest("th[data-sort]");
    if (header) { sort(header); }
  });
})();
