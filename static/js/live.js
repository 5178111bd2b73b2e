// Live panels (data-live) poll with htmx. Polling waits while the tab is hidden or while the
// pointer rests on a button of the panel (so a click never lands on a part being replaced), and
// a tab coming back into view refreshes at once.
(function () {
  function busy(panel) {
    return document.hidden || panel.querySelector("button:hover, button:focus, a:focus") !== null;
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var panel = event.detail.elt;
    if (panel.hasAttribute("data-live") && busy(panel)) {
      event.preventDefault();
    }
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) {
      document.querySelectorAll("[data-live]").forEach(function (panel) {
        htmx.trigger(panel, "refresh");
      });
    }
  });
})();
