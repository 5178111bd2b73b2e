// Phones: each cell of a .table-stack table carries its column's name (data-label), which the
// stylesheet shows above the cell when rows are stacked; rows htmx swaps in are labelled too.
(function () {
  function label(root) {
    root.querySelectorAll("table.table-stack").forEach(function (table) {
      var names = Array.from(table.querySelectorAll("thead th")).map(function (th) { return th.textContent.trim(); });
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.from(row.children).forEach(function (cell, index) {
          if (names[index] && !cell.hasAttribute("colspan") && !cell.hasAttribute("data-label")) {
            cell.setAttribute("data-label", names[index]);
          }
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { label(document); });
  document.addEventListener("htmx:afterSettle", function () { label(document); });
})();
