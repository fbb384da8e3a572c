// Draws every [data-plotly] element from the JSON figure beside it, on load and after htmx swaps.
// Drawn elements are marked with a JS property, not an attribute: htmx copies the attributes of an
// old element onto a swapped-in one with the same id, which would mark a new chart as drawn.
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
      if (el._dealpilotDrawn) return;
      var source = document.getElementById(el.dataset.plotly);
      if (!source) return;
      var fig = JSON.parse(source.textContent);
      el._dealpilotDrawn = true;
      el.classList.remove("chart-ready");
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
  document.addEventListener("htmx:afterSettle", function (ev) { draw(ev.target); });  // after attributes settle
  window.dealpilotCharts = {draw: draw};
})();
