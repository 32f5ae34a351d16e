// The queue's actions (/operator/queue/) without a reload: the form still posts without a
// script; with one, the same POST goes by fetch asking for JSON, and the rows acted on are
// drawn anew from the server's answer (a cancelled job's row leaves the page). Loaded after
// bulk.js, whose question before a cancel runs first: a "no" there sends nothing.
(function () {
  var form = document.querySelector("form[data-queue-form]");
  var status = document.querySelector("[data-queue-status]");
  if (!form) { return; }

  function say(text) { if (status) { status.textContent = text; } }

  function row(id) { return document.getElementById("queue-job-" + id); }

  function redraw(id, html) {
    var old = row(id);
    if (!old) { return; }
    var body = document.createElement("tbody");
    body.innerHTML = html.trim();
    var fresh = body.querySelector("tr");
    if (fresh) { old.replaceWith(fresh); }
  }

  document.addEventListener("submit", function (event) {
    if (event.target !== form || event.defaultPrevented) { return; }
    event.preventDefault();
    var data = new FormData(form);
    var button = event.submitter;
    if (button && button.name) { data.append(button.name, button.value); }
    if (button) { button.disabled = true; }
    // Not form.action: the form's buttons named "action" shadow that property.
    fetch(form.getAttribute("action"), {
      method: "POST", body: data, credentials: "same-origin",
      headers: {"Accept": "application/json"}
    }).then(function (r) {
      return r.json().then(function (answer) { return answer; }, function () {
        throw new Error(r.status);
      });
    }).then(function (answer) {
      Object.keys(answer.rows || {}).forEach(function (id) { redraw(id, answer.rows[id]); });
      (answer.gone || []).forEach(function (id) {
        var item = row(id);
        if (item) { item.remove(); }
      });
      Object.keys(answer.failed || {}).forEach(function (id) {
        var item = row(id);
        if (!item) { return; }
        var cell = item.lastElementChild;
        var why = cell.querySelector(".why") || document.createElement("span");
        why.className = "why errorlist";
        why.textContent = answer.failed[id];
        cell.appendChild(why);
      });
      say(answer.message || "");
    }).catch(function () {
      say("Not sent: the server did not answer. Try again.");
    }).then(function () {
      var confirmed = form.querySelector("[data-confirmed]");
      if (confirmed) { confirmed.value = ""; }  // the next cancel is asked about again
      if (button) { button.disabled = false; }
    });
  });
})();
