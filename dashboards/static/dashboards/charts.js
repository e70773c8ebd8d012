/*
 * Draws every Plotly chart of a page. Each chart is a <div data-chart="ID"> and its figure
 * ({data, layout, config}) sits in <script type="application/json" id="ID">, written by Django's
 * json_script filter: no inline script, so the pages satisfy a Content-Security-Policy without
 * 'unsafe-inline' for scripts.
 */
(function () {
  "use strict";

  var BASE_CONFIG = { displaylogo: false, responsive: true };
  var BASE_LAYOUT = {
    margin: { l: 48, r: 16, t: 8, b: 36 },
    legend: { orientation: "h", y: -0.18 },
    font: { family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: 12 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)"
  };

  function figureFor(div) {
    var source = document.getElementById(div.getAttribute("data-chart"));
    return source ? JSON.parse(source.textContent) : null;
  }

  function draw(div) {
    var figure = figureFor(div);
    if (!figure) {
      return;
    }
    var layout = Object.assign({}, BASE_LAYOUT, figure.layout || {});
    var config = Object.assign({}, BASE_CONFIG, figure.config || {});
    Plotly.newPlot(div, figure.data, layout, config).then(function () {
      div.setAttribute("data-rendered", "true");
    });
  }

  function drawAll() {
    var charts = document.querySelectorAll("[data-chart]");
    for (var i = 0; i < charts.length; i++) {
      draw(charts[i]);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
