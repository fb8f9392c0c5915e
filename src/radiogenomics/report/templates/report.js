(function () {
  "use strict";
  // Every string from the data reaches the page through textContent or, for Plotly (which
  // renders a subset of HTML in its text), through esc(). Nothing is ever set as innerHTML.
  function payload(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }
  function esc(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function unesc(text) {
    return String(text).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }
  // Figures follow the window width through one debounced listener (Plotly's own `responsive`
  // adds one per figure and relayouts all of them while the page is still loading).
  var CONFIG = { displaylogo: false, toImageButtonOptions: { format: "svg" } };
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      document.querySelectorAll("div.plot, div.xplot").forEach(function (div) {
        if (div._fullLayout) Plotly.Plots.resize(div);
      });
    }, 150);
  });
  var explorer = null; // set below when the report has a patient explorer

  // ---- figures -----------------------------------------------------------------------------
  // Figures on or near the screen are drawn first; the rest follow one per task, so the page
  // answers scrolling and clicks while it draws. <body data-first-screen-ms> and
  // <body data-drawn-ms> record when (benchmarks and tests wait for them).
  var figures = Array.prototype.slice.call(document.querySelectorAll("div.plot[data-figure]"));
  var drawnCount = 0;
  function drawFigure(div) {
    if (div.getAttribute("data-state")) return;
    div.setAttribute("data-state", "drawing");
    var started = performance.now();
    var spec = payload(div.getAttribute("data-figure"));
    var drawn = Plotly.newPlot(div, spec.data, spec.layout, CONFIG);
    if (spec.frames) {
      drawn = drawn.then(function () { return Plotly.addFrames(div, spec.frames); });
    }
    drawn.then(function () {
      div.setAttribute("data-state", "drawn");
      div.setAttribute("data-draw-ms", String(Math.round(performance.now() - started)));
      drawnCount += 1;
      if (drawnCount === figures.length) {
        document.body.setAttribute("data-drawn-ms", String(Math.round(performance.now())));
      }
    });
    // a click on a point that names a patient selects that patient in the explorer
    div.on("plotly_click", function (event) {
      if (!explorer || !event || !event.points || !event.points.length) return;
      var pt = event.points[0];
      var candidates = [pt.customdata, pt.text, pt.hovertext];
      for (var i = 0; i < candidates.length; i++) {
        var value = candidates[i];
        if (Array.isArray(value)) value = value[0];
        if (typeof value === "string" && explorer.select(unesc(value), true)) return;
      }
    });
  }
  function onScreen(div) {
    var box = div.getBoundingClientRect();
    return box.bottom > -400 && box.top < window.innerHeight + 400;
  }
  if (!figures.length) document.body.setAttribute("data-drawn-ms", "0");
  figures.filter(onScreen).forEach(drawFigure);
  document.body.setAttribute("data-first-screen-ms", String(Math.round(performance.now())));
  if ("IntersectionObserver" in window) {
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) { drawFigure(entry.target); observer.unobserve(entry.target); }
      });
    }, { rootMargin: "400px 0px" });
    figures.forEach(function (div) { observer.observe(div); });
  }
  // Yield to the browser between figures through a message (a chain of setTimeout(0) calls
  // is clamped to 4 ms per call after the fifth, idle time that adds up over the figures).
  var next = 0;
  var channel = "MessageChannel" in window ? new MessageChannel() : null;
  function yieldThen(fn) {
    if (channel) { channel.port1.onmessage = fn; channel.port2.postMessage(0); }
    else setTimeout(fn, 0);
  }
  (function drainQueue() {
    while (next < figures.length && figures[next].getAttribute("data-state")) next++;
    if (next >= figures.length) return;
    drawFigure(figures[next]);
    yieldThen(drainQueue);
  })();
  function download(name, text, type) {
    var blob = new Blob([text], { type: type });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.appendChild(link);
    link.click();
    setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 0);
  }
  document.querySelectorAll("button.download").forEach(function (button) {
    button.addEventListener("click", function () {
      var spec = payload(button.getAttribute("data-source"));
      download(button.getAttribute("data-file"), spec.tsv, "text/tab-separated-values");
    });
  });
  document.querySelectorAll("button.image").forEach(function (button) {
    button.addEventListener("click", function () {
      var div = document.getElementById(button.getAttribute("data-plot"));
      var format = button.getAttribute("data-format");
      Plotly.downloadImage(div, { format: format, filename: button.getAttribute("data-file"),
        width: div.offsetWidth, height: div.offsetHeight, scale: format === "png" ? 3 : 1 });
    });
  });
  document.querySelectorAll("button.copy").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-source"));
      var text = Array.prototype.map.call(source.querySelectorAll("p"), function (p) {
        return p.textContent;
      }).join("\n\n");
      var status = button.nextElementSibling;
      function done(ok) { if (status) status.textContent = ok ? "copied" : "select the text and copy it"; }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(function () { done(true); }, function () {
          done(fallbackCopy(source));
        });
      } else {
        done(fallbackCopy(source));
      }
    });
  });
  function fallbackCopy(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try { return document.execCommand("copy"); } catch (e) { return false; }
  }

  // ---- patient explorer --------------------------------------------------------------------
  var node = document.getElementById("explorer-json");
  if (node) explorer = makeExplorer(JSON.parse(node.textContent));

  function makeExplorer(data) {
    var P = data.patients;
    var n = P.id.length;
    var index = new Map();
    for (var i = 0; i < n; i++) index.set(P.id[i], i);
    var images = new Map(Object.keys(data.images).map(function (k) { return [k, data.images[k]]; }));
    var ROWS = 150;
    var selected = -1;
    var decoded = new Map();
    var $ = function (id) { return document.getElementById(id); };
    var search = $("explorer-search"), tbody = document.querySelector("#explorer-table tbody");
    var canvas = $("explorer-ct"), slider = $("explorer-slice"), overlay = $("explorer-overlay");

    function fmt(v, digits) { return v === null || v === undefined ? "–" : Number(v).toFixed(digits); }
    function lnmText(v) { return v === null || v === undefined ? "unknown" : (v ? "LNM+" : "LNM−"); }
    function td(tr, text) { var c = document.createElement("td"); c.textContent = text; tr.appendChild(c); }

    function matches(query) {
      var out = [];
      for (var i = 0; i < n; i++) {
        var hay = (P.id[i] + " " + P.cohort[i] + " " + P.center[i]).toLowerCase();
        if (!query || hay.indexOf(query) >= 0) out.push(i);
      }
      return out;
    }
    function renderTable() {
      var found = matches(search.value.trim().toLowerCase());
      tbody.textContent = "";
      found.slice(0, ROWS).forEach(function (i) {
        var tr = document.createElement("tr");
        tr.setAttribute("data-index", String(i));
        if (i === selected) tr.className = "selected";
        var cell = document.createElement("td");
        var button = document.createElement("button");
        button.type = "button";
        button.className = "patient-link";
        button.textContent = P.id[i];
        cell.appendChild(button);
        tr.appendChild(cell);
        td(tr, P.cohort[i]); td(tr, P.center[i]); td(tr, lnmText(P.lnm[i]));
        td(tr, fmt(P.score[i], 3)); td(tr, fmt(P.prob[i], 3)); td(tr, images.has(P.id[i]) ? "✓" : "");
        tbody.appendChild(tr);
      });
      $("explorer-count").textContent = found.length + " of " + n + " patients" +
        (found.length > ROWS ? " (first " + ROWS + " shown; refine the search)" : "");
      return found;
    }
    search.addEventListener("input", renderTable);
    search.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") return;
      var found = matches(search.value.trim().toLowerCase());
      if (found.length) select(P.id[found[0]], false);
    });
    tbody.addEventListener("click", function (event) {
      var tr = event.target.closest("tr");
      if (tr) select(P.id[Number(tr.getAttribute("data-index"))], false);
    });

    // rad-score of every patient by cohort: a strip plot; clicking a point selects the patient
    var cohorts = data.cohorts;
    function jitter(i) { return ((i * 0.6180339887) % 1 - 0.5) * 0.5; }
    var scoreTraces = cohorts.map(function (cohort, c) {
      var xs = [], ys = [], ids = [], text = [];
      for (var i = 0; i < n; i++) {
        if (P.cohort[i] !== cohort || P.score[i] === null) continue;
        xs.push(P.score[i]); ys.push(c + jitter(i)); ids.push(P.id[i]);
        text.push(esc(P.id[i]) + " · " + lnmText(P.lnm[i]));
      }
      return { type: "scatter", mode: "markers", x: xs, y: ys, customdata: ids, text: text,
        name: esc(cohort), marker: { size: 5, opacity: 0.55 },
        hovertemplate: "%{text}<br>rad-score %{x:.3f}<extra></extra>" };
    });
    scoreTraces.push({ type: "scatter", mode: "markers", x: [], y: [], name: "selected",
      marker: { symbol: "star", size: 17, color: "#D55E00", line: { color: "#000", width: 1 } },
      hoverinfo: "skip" });
    var scoreDiv = $("explorer-score");
    Plotly.newPlot(scoreDiv, scoreTraces, {
      template: "simple_white", height: 120 + 60 * cohorts.length, showlegend: false,
      title: { text: "Rad-score by cohort (click a point to select the patient)" },
      margin: { l: 110, r: 20, t: 50, b: 45 }, hovermode: "closest",
      xaxis: { title: { text: "rad-score" } },
      yaxis: { tickvals: cohorts.map(function (c, i) { return i; }), ticktext: cohorts.map(esc),
        range: [-0.6, cohorts.length - 0.4], zeroline: false }
    }, CONFIG);
    scoreDiv.on("plotly_click", function (event) {
      var pt = event && event.points && event.points[0];
      if (pt && typeof pt.customdata === "string") select(pt.customdata, false);
    });

    function inflate(b64) {
      var bin = atob(b64), bytes = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
      return new Response(stream).arrayBuffer().then(function (buf) { return new Uint8Array(buf); });
    }
    function volume(id) {
      if (!decoded.has(id)) {
        var img = images.get(id);
        decoded.set(id, Promise.all([inflate(img.ct), inflate(img.hab)]).then(function (arrays) {
          return { shape: img.shape, slices: img.slices, pixel: img.pixel_mm, ct: arrays[0], hab: arrays[1] };
        }));
      }
      return decoded.get(id);
    }
    var colours = (data.habitats ? data.habitats.colours : []).map(function (hex) {
      return [parseInt(hex.slice(1, 3), 16), parseInt(hex.slice(3, 5), 16), parseInt(hex.slice(5, 7), 16)];
    });
    if (data.habitats) {
      var legend = $("explorer-legend");
      data.habitats.colours.forEach(function (hex, h) {
        var chip = document.createElement("span"), box = document.createElement("i");
        chip.className = "chip";
        box.style.background = hex;
        chip.appendChild(box);
        var hu = data.habitats.mean_hu[h];
        chip.appendChild(document.createTextNode("H" + (h + 1) + (hu === null || hu === undefined ? "" : " (" + Math.round(hu) + " HU)")));
        legend.appendChild(chip);
      });
      var contour = document.createElement("span");
      contour.className = "chip";
      var line = document.createElement("i");
      line.style.background = "#00E5FF";
      contour.appendChild(line);
      contour.appendChild(document.createTextNode("tumour contour"));
      legend.appendChild(contour);
    }
    var current = null;
    function draw() {
      var ctx = canvas.getContext("2d");
      ctx.fillStyle = "#000";
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      if (!current) return;
      var v = current.volume, nz = v.shape[0], ny = v.shape[1], nx = v.shape[2];
      var z = Math.min(Number(slider.value), nz - 1), base = z * ny * nx;
      var off = document.createElement("canvas");
      off.width = nx; off.height = ny;
      var octx = off.getContext("2d"), im = octx.createImageData(nx, ny), show = overlay.checked;
      for (var y = 0; y < ny; y++) {
        for (var x = 0; x < nx; x++) {
          var p = base + y * nx + x, g = v.ct[p], h = v.hab[p], r = g, gg = g, b = g, o = 4 * (y * nx + x);
          if (h > 0 && show && colours[h - 1]) {
            var c = colours[h - 1];
            r = 0.55 * g + 0.45 * c[0]; gg = 0.55 * g + 0.45 * c[1]; b = 0.55 * g + 0.45 * c[2];
          }
          if (h > 0 && (x === 0 || y === 0 || x === nx - 1 || y === ny - 1 || v.hab[p - 1] === 0 ||
              v.hab[p + 1] === 0 || v.hab[p - nx] === 0 || v.hab[p + nx] === 0)) {
            r = 0; gg = 229; b = 255;
          }
          im.data[o] = r; im.data[o + 1] = gg; im.data[o + 2] = b; im.data[o + 3] = 255;
        }
      }
      octx.putImageData(im, 0, 0);
      var sx = v.pixel[0], sy = v.pixel[1];
      var scale = Math.min(canvas.width / (nx * sx), canvas.height / (ny * sy));
      var w = nx * sx * scale, hgt = ny * sy * scale;
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(off, (canvas.width - w) / 2, (canvas.height - hgt) / 2, w, hgt);
      canvas.setAttribute("data-patient", current.id);
      canvas.setAttribute("data-slice", String(v.slices[z]));
      $("explorer-slice-label").textContent = "axial slice " + v.slices[z] + " (" + (z + 1) + " of " + nz + ")";
    }
    slider.addEventListener("input", draw);
    overlay.addEventListener("change", draw);

    function showImage(id) {
      current = null;
      canvas.setAttribute("data-patient", "");
      slider.max = "0"; slider.value = "0"; slider.disabled = true;
      $("explorer-slice-label").textContent = "";
      if (!images.has(id)) {
        draw();
        $("explorer-ct-note").textContent = "No CT slices stored for this patient (the report keeps " +
          images.size + " patients' slices; report.explorer_images sets how many).";
        return Promise.resolve();
      }
      $("explorer-ct-note").textContent = "Tumour crop, soft-tissue window (−160 to 240 HU); cyan: tumour contour.";
      return volume(id).then(function (v) {
        if (P.id[selected] !== id) return; // another patient was selected meanwhile
        current = { id: id, volume: v };
        slider.max = String(v.shape[0] - 1);
        slider.value = String(Math.floor(v.shape[0] / 2));
        slider.disabled = false;
        draw();
      });
    }
    function percentile(i) {
      var below = 0, total = 0;
      for (var j = 0; j < n; j++) {
        if (P.cohort[j] !== P.cohort[i] || P.score[j] === null) continue;
        total++;
        if (P.score[j] <= P.score[i]) below++;
      }
      return total ? Math.round(100 * below / total) : null;
    }
    function versus(div, names, matrix, id, title, axis) {
      var row = matrix.ids.indexOf(id);
      if (row < 0) { div.hidden = true; return; }
      div.hidden = false;
      var xs = [], ys = [];
      matrix.values.forEach(function (values) {
        values.forEach(function (value, k) { if (value !== null) { xs.push(value); ys.push(esc(names[k])); } });
      });
      var mine = matrix.values[row];
      Plotly.react(div, [
        { type: "box", orientation: "h", x: xs, y: ys, name: "cohort", boxpoints: false,
          marker: { color: "#8aa4bf" }, hoverinfo: "skip" },
        { type: "scatter", mode: "markers", x: mine, y: names.map(esc), name: esc(id),
          marker: { symbol: "diamond", size: 11, color: "#D55E00", line: { color: "#000", width: 1 } },
          hovertemplate: "%{y}: %{x:.3g}<extra>" + esc(id) + "</extra>" }
      ], { template: "simple_white", height: 90 + 24 * names.length, title: { text: title },
        margin: { l: 230, r: 20, t: 50, b: 45 }, showlegend: false,
        xaxis: { title: { text: axis } }, yaxis: { autorange: "reversed", automargin: true } }, CONFIG);
    }
    function select(id, scroll) {
      if (!index.has(id)) return false;
      var i = index.get(id);
      selected = i;
      $("explorer-title").textContent = id;
      var pct = percentile(i);
      var prob = P.prob[i], t = data.model.threshold;
      var facts = [P.cohort[i] + " cohort", P.center[i] ? "centre " + P.center[i] : "", lnmText(P.lnm[i]),
        "rad-score " + fmt(P.score[i], 3) + (pct === null ? "" : " (percentile " + pct + " in the " + P.cohort[i] + " cohort)"),
        data.model.label + " risk " + fmt(prob, 3) + (prob === null ? "" : (prob >= t ? " ≥ " : " < ") +
          "threshold " + fmt(t, 3) + (prob >= t ? ": predicted LNM+" : ": predicted LNM−"))];
      if (data.habitats && data.habitats.fractions[i]) {
        facts.push("habitat fractions " + data.habitats.fractions[i].map(function (f, h) {
          return "H" + (h + 1) + " " + fmt(f, 2);
        }).join(", "));
      }
      var rna = data.rna;
      if (rna && rna.barcode && Object.prototype.hasOwnProperty.call(rna.barcode, id)) {
        facts.push("RNA-seq " + rna.barcode[id]);
      }
      $("explorer-facts").textContent = facts.filter(Boolean).join(" · ");
      Plotly.restyle(scoreDiv, { x: [[P.score[i]]], y: [[cohorts.indexOf(P.cohort[i])]],
        customdata: [[id]] }, [scoreTraces.length - 1]);
      if (rna && rna.fractions) versus($("explorer-cells"), rna.cell_types, rna.fractions, id,
        "Cell fractions: this patient (◆) against all deconvolved tumours", "fraction");
      else $("explorer-cells").hidden = true;
      if (rna && rna.scores) versus($("explorer-pathways"), rna.pathways, rna.scores, id,
        "Pathway scores: this patient (◆) against the linked tumours", "score");
      else $("explorer-pathways").hidden = true;
      renderTable();
      showImage(id);
      if (scroll) $("explorer").scrollIntoView({ behavior: "auto", block: "start" });
      return true;
    }
    renderTable();
    draw();
    // start on the highest-risk patient whose slices are stored, so the viewer shows a tumour
    var start = -1;
    for (var k = 0; k < n; k++) {
      if (images.has(P.id[k]) && P.prob[k] !== null && (start < 0 || P.prob[k] > P.prob[start])) start = k;
    }
    if (start >= 0) select(P.id[start], false);
    return { select: select };
  }
})();
