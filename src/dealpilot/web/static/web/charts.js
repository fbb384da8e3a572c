// Draws every [data-plotly] element from the JSON figure beside it, on load and after htmx swaps.
// A click on a point whose customdata is a link ("/..." or ["/...", ...]) opens that page.
(function () {
  function linkOf(point) {
    var d = point && point.customdata;
    if (Array.isArray(d)) d = d[0];
    return typeof d === "string" && d.charAt(0) === "/" ? d : null;
  }
  function draw(root) {
    if (!window.Plotly) return;
    (root || document).querySelectorAll("[data-plotly]").forEach(function (el) {
      if (el.dataset.drawn) return;
      var source = document.getElementById(el.dataset.plotly);
      if (!source) return;
      var fig = JSON.parse(source.textContent);
      el.dataset.drawn = "1";
      Plotly.newPlot(el, fig.data || [], fig.layout || {}, {responsive: true, displaylogo: false}).then(function () {
        el.classList.add("chart-ready");
      });
      el.on("plotly_click", function (ev) {
        var url = ev && ev.points && linkOf(ev.points[0]);
        if (url) window.location.href = url;
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (ev) { draw(ev.target); });
  window.dealpilotCharts = {draw: draw};
})();
