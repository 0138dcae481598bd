/* Draws every chart of the page: each <div data-chart="ID"> reads the JSON of <script id="ID">
   (made by portal.charts.chart and templates/_chart.html) and becomes an Apache ECharts chart
   (vendor/echarts, shipped with the package). No inline script: a page carries data only.
   Phone first: fits a 360 px screen, labels stay inside, the chart follows the window's width. */
(function () {
  "use strict";
  function fmt(v, unit) {
    if (v === null || v === undefined) { return "–"; }
    return (Math.round(v * 100) / 100) + (unit || "");
  }
  function option(d) {
    var primary = getComputedStyle(document.documentElement).getPropertyValue("--primary").trim() || "#c62828";
    var accent = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim() || "#f9a825";
    var narrow = window.innerWidth < 480;
    var cat = { type: "category", data: d.categories, axisTick: { show: false },
                axisLabel: { fontSize: 12, width: narrow ? 84 : 160, overflow: "truncate",
                             interval: d.horizontal ? 0 : "auto", hideOverlap: !d.horizontal,
                             rotate: (!d.horizontal && narrow && d.categories.length > 6) ? 45 : 0 } };
    var val = { type: "value", min: d.min, max: d.max, splitNumber: 4, axisLabel: { fontSize: 11 } };
    if (d.horizontal) { cat.inverse = true; }
    var series = d.series.map(function (s, i) {
      var out = { name: s.name, type: d.kind === "line" ? "line" : "bar", data: s.data, connectNulls: false,
                  itemStyle: { color: i === 0 ? primary : accent }, barMaxWidth: 22, symbolSize: 7 };
      if (d.kind === "bar") {
        out.label = { show: true, position: d.horizontal ? "right" : "top", fontSize: 11,
                      formatter: function (p) { return fmt(p.value, d.unit); } };
      }
      return out;
    });
    return {
      animation: false,
      title: d.title ? { text: d.title, left: 0, top: 0, textStyle: { fontSize: 14, fontWeight: 600 } } : undefined,
      tooltip: { trigger: "axis", confine: true,
                 valueFormatter: function (v) { return fmt(v, d.unit); } },
      legend: d.series.length > 1 ? { top: d.title ? 22 : 0, right: 0, textStyle: { fontSize: 12 } } : undefined,
      grid: { left: 4, right: d.horizontal ? 40 : 12, top: d.title ? (d.series.length > 1 ? 52 : 32) : 16,
              bottom: 8, containLabel: true },
      xAxis: d.horizontal ? val : cat,
      yAxis: d.horizontal ? cat : val,
      series: series
    };
  }
  function draw() {
    if (!window.echarts) { return; }  /* no script library: the table next to the chart says it all */
    var charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (box) {
      var source = document.getElementById(box.getAttribute("data-chart"));
      if (!source) { return; }
      var data;
      try { data = JSON.parse(source.textContent); } catch (e) { return; }
      box.hidden = false;
      var chart = window.echarts.init(box, null, { renderer: "canvas" });
      chart.setOption(option(data));
      box.setAttribute("data-drawn", "1");
      charts.push(chart);
    });
    var pending = null;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(function () { charts.forEach(function (c) { c.resize(); }); }, 150);
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
}());
