// The farm's only script, served from 'self' so the content security policy needs no inline
// script: pages describe behaviour with data- attributes and this file wires it up.

// Parts of a page marked data-live refresh themselves from ?partial=1, so status, progress and
// completion times stay current without a reload.
document.querySelectorAll("[data-live]").forEach(function (el) {
  var every = parseInt(el.dataset.every || "3000", 10);
  setInterval(function () {
    fetch(el.dataset.live, {credentials: "same-origin"}).then(function (r) {
      if (r.ok) { return r.text(); } throw new Error(r.status);
    }).then(function (html) { el.innerHTML = html; }).catch(function () {});
  }, every);
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
