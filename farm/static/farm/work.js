// The work lists (/operator/work/): each form still posts without a script; with one, it posts
// by fetch asking for JSON, and the items the server confirmed leave the list (no reload, no
// jump to the top). Items it refused stay, with the reason next to them.
(function () {
  var status = document.querySelector("[data-work-status]");
  var prefix = {beds: "bed-", filament: "filament-", declines: "declines-"};

  function say(text) { if (status) { status.textContent = text; } }

  function recount() {
    document.querySelectorAll("[data-work-count]").forEach(function (count) {
      var list = document.querySelector('[data-work-form="' + count.dataset.workCount + '"]');
      count.textContent = list ? list.querySelectorAll("li[data-task]").length : 0;
    });
  }

  function itemFor(form, id) {
    if (form.dataset.taskOf) { return document.getElementById(form.dataset.taskOf); }
    return document.getElementById((prefix[form.dataset.workForm] || "") + id);
  }

  document.querySelectorAll("form[data-work-form]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData(form);
      var button = event.submitter;
      if (button && button.name) { data.append(button.name, button.value); }
      if (button) { button.disabled = true; }
      fetch(form.action, {
        method: "POST", body: data, credentials: "same-origin",
        headers: {"Accept": "application/json"}
      }).then(function (r) {
        return r.json().then(function (answer) { return answer; }, function () {
          throw new Error(r.status);
        });
      }).then(function (answer) {
        (answer.done || []).forEach(function (id) {
          var item = itemFor(form, id);
          if (item) { item.remove(); }
        });
        Object.keys(answer.failed || {}).forEach(function (id) {
          var item = itemFor(form, id);
          if (!item) { return; }
          var why = item.querySelector(".why") || document.createElement("span");
          why.className = "why errorlist";
          why.textContent = answer.failed[id];
          item.appendChild(why);
        });
        say(answer.message || "");
        recount();
      }).catch(function () {
        say("Not sent: the server did not answer. Try again.");
      }).then(function () { if (button) { button.disabled = false; } });
    });
  });
})();
