// Draws every <canvas data-chart="name"> from the page's JSON block (#charts) with Chart.js.
// No inline script: the Content-Security-Policy allows only this origin's files.
(function () {
  "use strict";
  var palette = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2",
                 "#ca8a04", "#db2777", "#4b5563", "#65a30d"];
  function draw() {
    var block = document.getElementById("charts");
    if (!block || typeof Chart === "undefined") { return; }
    var specs = JSON.parse(block.textContent || "{}");
    var canvases = document.querySelectorAll("canvas[data-chart]");
    for (var i = 0; i < canvases.length; i++) {
      var canvas = canvases[i];
      var spec = specs[canvas.getAttribute("data-chart")];
      if (!spec) { continue; }
      var datasets = spec.datasets.map(function (d, j) {
        var colour = palette[j % palette.length];
        return { label: d.label, data: d.data, borderColor: colour, backgroundColor: colour,
                 pointRadius: 0, borderWidth: 2, tension: 0.2 };
      });
      var chart = new Chart(canvas, {
        type: spec.type,
        data: { labels: spec.labels, datasets: datasets },
        options: {
          animation: false, responsive: true, maintainAspectRatio: false,
          indexAxis: spec.horizontal ? "y" : "x",
          scales: { x: { stacked: !!spec.stacked }, y: { stacked: !!spec.stacked,
                                                          beginAtZero: true } },
          plugins: { legend: { display: datasets.length > 1 } }
        }
      });
      canvas.setAttribute("data-drawn", String(chart.data.datasets.length));
    }
    document.body.setAttribute("data-charts-ready", "true");
  }
  document.addEventListener("DOMContentLoaded", function () {
    var range = document.getElementById("range");
    var refresh = document.getElementById("refresh");
    var form = document.getElementById("range-form");
    [range, refresh].forEach(function (el) {
      if (el && form) { el.addEventListener("change", function () { form.submit(); }); }
    });
    draw();
  });
})();
