// The farm's only script, served from 'self' so the content security policy needs no inline
// script: pages describe behaviour with data- attributes and this file wires it up.

// Runs `step` (which returns a promise) every `every` ms, the next one only once the last
// has settled: a slow server never has two requests of one tab in flight (setInterval would
// stack them up). A hidden tab does not ask at all.
function everyInTurn(every, step) {
  function next() { window.setTimeout(run, every); }
  function run() {
    if (document.hidden) { next(); return; }
    step().then(next, next);
  }
  next();
}

// Parts of a page marked data-live refresh themselves from ?partial=1, so status, progress and
// completion times stay current without a reload.
document.querySelectorAll("[data-live]").forEach(function (el) {
  everyInTurn(parseInt(el.dataset.every || "3000", 10), function () {
    return fetch(el.dataset.live, {credentials: "same-origin"}).then(function (r) {
      if (r.ok) { return r.text(); } throw new Error(r.status);
    }).then(function (html) { el.innerHTML = html; }).catch(function () {});
  });
});

// The fleet view (data-fleet-changes="url" data-cursor="..."): asks what changed since its
// cursor for the cards it shows, and swaps only those cards and the counts. A cursor the
// server can no longer answer from ("full") reloads the page.
document.querySelectorAll("[data-fleet-changes]").forEach(function (el) {
  var cursor = el.dataset.cursor;
  var elsewhere = document.querySelector("[data-fleet-elsewhere]");
  everyInTurn(parseInt(el.dataset.every || "2000", 10), function () {
    var ids = Array.prototype.map.call(el.querySelectorAll("[data-printer-id]"), function (card) {
      return card.dataset.printerId;
    });
    var url = el.dataset.fleetChanges + (el.dataset.fleetChanges.indexOf("?") < 0 ? "?" : "&") +
      "cursor=" + encodeURIComponent(cursor) + "&ids=" + ids.join(",");
    return fetch(url, {credentials: "same-origin"}).then(function (r) {
      if (r.ok) { return r.json(); } throw new Error(r.status);
    }).then(function (answer) {
      if (answer.full) { window.location.reload(); return; }
      cursor = answer.cursor;
      Object.keys(answer.cards).forEach(function (id) {
        var card = document.getElementById("printer-" + id);
        if (!card) { return; }
        // A printer ticked for a bulk action stays ticked through its card's update.
        var ticked = card.querySelector("input[name=printer]:checked");
        card.outerHTML = answer.cards[id];
        var box = ticked && document.querySelector("#printer-" + id + " input[name=printer]");
        if (box) { box.checked = true; }
      });
      Object.keys(answer.counts || {}).forEach(function (state) {
        var count = document.querySelector('[data-count="' + state + '"] span');
        if (count) { count.textContent = answer.counts[state]; }
      });
      if (elsewhere && answer.changed) {
        elsewhere.textContent = answer.changed + " changed in the last update";
      }
    }).catch(function () {});
  });
});

// <form data-confirm="Question?">: asks first. Delegated, so forms in live parts work too.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// <form data-max-bytes="N">: say it before a large file is sent for nothing; the server
// checks again while it streams.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.dataset || !form.dataset.maxBytes) { return; }
  var input = form.querySelector("input[type=file]");
  var limit = parseInt(form.dataset.maxBytes, 10);
  if (input && input.files.length && input.files[0].size > limit) {
    event.preventDefault();
    window.alert("The file is larger than the " + Math.round(limit / 1048576) + " MB limit.");
  }
});

// <input type=range data-layer-img="id" data-layer-url=".../0.svg" data-layer-label="id">:
// shows the chosen layer's toolpaths.
document.querySelectorAll("[data-layer-img]").forEach(function (input) {
  input.addEventListener("input", function () {
    document.getElementById(input.dataset.layerImg).src =
      input.dataset.layerUrl.replace(/\/0\.svg$/, "/" + input.value + ".svg");
    document.getElementById(input.dataset.layerLabel).textContent = input.value;
  });
});
