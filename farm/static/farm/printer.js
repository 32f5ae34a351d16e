// The printer page: its temperatures of the last hour on a uPlot chart (vendored in
// farm/static/farm/vendor/uplot/), refreshed from the page's live URL one request at a time
// (everyInTurn, farm.js); and a confirmed dialog (farm.js data-confirm) tells the server so,
// which then needs no confirmation page of its own.
// Both wait for DOMContentLoaded: base.html loads farm.js after the page's own scripts, and
// this needs its everyInTurn, and its question asked (data-confirm) before this listener runs.
document.addEventListener("DOMContentLoaded", function () {
  document.addEventListener("submit", function (event) {
    var confirmed = event.target.querySelector && event.target.querySelector("[data-confirmed]");
    if (confirmed && !event.defaultPrevented) { confirmed.value = "yes"; }
  });
});

document.addEventListener("DOMContentLoaded", function () {
  var live = document.querySelector("[data-printer-live]");
  var box = document.querySelector("[data-temperature-chart]");
  if (!live || !box || typeof window.uPlot === "undefined") { return; }
  var chart = null;
  var sensors = [];
  var colours = ["#c0392b", "#1a66cc", "#27ae60", "#8e44ad", "#d35400", "#2c3e50"];

  function size() { return {width: Math.max(200, box.clientWidth), height: 220}; }

  function build(names, data) {
    if (chart) { chart.destroy(); }
    sensors = names;
    var series = [{}].concat(names.map(function (name, i) {
      return {label: name, stroke: colours[i % colours.length], width: 2,
        value: function (u, v) { return v == null ? "—" : v.toFixed(1) + " °C"; }};
    }));
    var opts = size();
    opts.series = series;
    opts.axes = [{}, {label: "°C"}];
    opts.scales = {x: {time: true}};
    chart = new window.uPlot(opts, data, box);
  }

  function show(answer) {
    var names = Object.keys(answer.series.sensors).sort();
    var data = [answer.series.times].concat(names.map(function (n) {
      return answer.series.sensors[n];
    }));
    if (!chart || names.join() !== sensors.join()) { build(names, data); } else { chart.setData(data); }
    var now = Object.keys(answer.temperatures || {}).sort().map(function (n) {
      return n + " " + Math.round(answer.temperatures[n]) + " °C";
    }).join(" · ");
    live.textContent = now || "No temperatures reported yet.";
    var state = document.querySelector("[data-printer-state]");
    if (state && answer.state) { state.textContent = answer.state; }
  }

  function step() {
    return fetch(live.dataset.printerLive, {credentials: "same-origin"}).then(function (r) {
      if (r.ok) { return r.json(); } throw new Error(r.status);
    }).then(show).catch(function () {});
  }

  window.addEventListener("resize", function () { if (chart) { chart.setSize(size()); } });
  step();
  everyInTurn(5000, step);
});
