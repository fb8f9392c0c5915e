(function () {
  "use strict";
  function payload(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }
  document.querySelectorAll("div.plot[data-figure]").forEach(function (div) {
    var spec = payload(div.getAttribute("data-figure"));
    Plotly.newPlot(div, spec.data, spec.layout, {
      responsive: true,
      displaylogo: false,
      toImageButtonOptions: { format: "svg" }
    });
  });
  document.querySelectorAll("button.download").forEach(function (button) {
    button.addEventListener("click", function () {
      var spec = payload(button.getAttribute("data-source"));
      var blob = new Blob([spec.tsv], { type: "text/tab-separated-values" });
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = button.getAttribute("data-file");
      document.body.appendChild(link);
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 0);
    });
  });
})();
