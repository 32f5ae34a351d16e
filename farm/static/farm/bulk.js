// Bulk actions (the fleet view's and the queue's forms): a box that ticks every box of its
// name on the page, and a question before an action that loses prints. The forms post
// without a script too; the server then asks on a page of its own.
document.querySelectorAll("[data-select-all]").forEach(function (all) {
  all.addEventListener("change", function () {
    document.querySelectorAll('input[type=checkbox][name="' + all.dataset.selectAll + '"]')
      .forEach(function (box) { box.checked = all.checked; });
  });
});

document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.dataset || form.dataset.confirmActions === undefined) { return; }
  var button = event.submitter;
  var select = form.querySelector("select[name=action]");
  var action = button && button.name === "action" ? button.value : (select ? select.value : "");
  var risky = form.dataset.confirmActions.split(" ").indexOf(action) >= 0;
  if (!risky) { return; }
  if (!window.confirm(form.dataset.confirmText)) { event.preventDefault(); return; }
  var confirmed = form.querySelector("[data-confirmed]");
  if (confirmed) { confirmed.value = "yes"; }
});
