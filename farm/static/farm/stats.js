// The statistics page: one uPlot chart (vendored in farm/static/farm/vendor/uplot/) per
// section, from the JSON the page carries (#stats-data). Days are drawn as time series;
// categories (site · model, outcomes, reasons, completion days) as bars over their index.
(function () {
  var source = document.getElementById("stats-data");
  if (!source || typeof window.uPlot === "undefined") { return; }
  var charts = JSON.parse(source.textContent);
  var colours = ["#1a66cc", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#2c3e50"];
  var bars = window.uPlot.paths && window.uPlot.paths.bars ? window.uPlot.paths.bars({size: [0.6, 60]}) : null;

  document.querySelectorAll("[data-chart]").forEach(function (box) {
    var spec = charts[box.getAttribute("data-chart")];
    if (!spec) { return; }
    var names = Object.keys(spec.series);
    var categorical = Array.isArray(spec.categories);
    var x = categorical ? spec.categories.map(function (_, i) { return i; }) : spec.x;
    if (!x.length) { box.textContent = "Nothing to draw in the period."; return; }
    var data = [x].concat(names.map(function (n) { return spec.series[n]; }));
    var opts = {
      width: Math.max(280, Math.min(box.clientWidth || 600, 900)),
      height: 220,
      scales: {x: categorical ? {time: false, range: function (u, min, max) { return [min - 0.5, max + 0.5]; }} : {time: true}},
      series: [{label: categorical ? "" : "day", value: categorical ? function (u, v) { return v == null ? "" : spec.categories[v]; } : undefined}]
        .concat(names.map(function (n, i) {
          var s = {label: n, stroke: colours[i % colours.length], width: 2};
          if (categorical && bars) { s.paths = bars; s.fill = colours[i % colours.length] + "99"; s.points = {show: false}; }
          return s;
        })),
      axes: [
        categorical ? {values: function (u, splits) { return splits.map(function (v) { return Number.isInteger(v) ? (spec.categories[v] || "") : ""; }); }, incrs: [1]} : {},
        {}
      ]
    };
    new window.uPlot(opts, data, box);
  });
})();
