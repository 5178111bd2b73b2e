// A form[data-kind-form] shows only the fieldsets whose data-kind lists the chosen
// kind (the service editor: a webhook's URL and secret, Discord's server and roles, a site address).
(function () {
  function apply(select) {
    var form = select.form;
    form.querySelectorAll("[data-kind]").forEach(function (part) {
      var wanted = part.getAttribute("data-kind").split(" ").indexOf(select.value) !== -1;
      part.hidden = !wanted;
      part.disabled = !wanted;
    });
  }
  document.querySelectorAll("form[data-kind-form] select[name=kind]").forEach(function (select) {
    apply(select);
    select.addEventListener("change", function () { apply(select); });
  });
})();
