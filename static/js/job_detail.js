// Live curves on the job page: fetches new metric points and draws each chosen
// metric as a line on a canvas, its eval_ counterpart (when the job evaluates)
// beside it in another colour. No chart library, no build step.
(function () {
  "use strict";

  const box = document.getElementById("charts");
  if (!box) return;
  const names = box.dataset.metrics.split(",");
  const points = {};
  const canvases = {};
  let lastStep = -1;

  const SERIES = [
    { prefix: "", colour: "#2a6fdb" },
    { prefix: "eval_", colour: "#e07b00" },
  ];

  for (const name of names) {
    points[name] = [];
    points[`eval_${name}`] = [];
    const figure = document.createElement("figure");
    const caption = document.createElement("figcaption");
    caption.textContent = name;
    const canvas = document.createElement("canvas");
    canvas.width = 420;
    canvas.height = 220;
    canvas.setAttribute("aria-label", `${name} by step`);
    figure.append(caption, canvas);
    box.append(figure);
    canvases[name] = canvas;
  }

  function draw(name) {
    const canvas = canvases[name];
    const ctx = canvas.getContext("2d");
    const all = SERIES.map((s) => points[s.prefix + name]).flat();
    const pad = { left: 52, right: 10, top: 10, bottom: 26 };
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.font = "11px sans-serif";
    ctx.fillStyle = "#666";
    if (all.length === 0) {
      ctx.fillText("waiting for the first logged step…", pad.left, canvas.height / 2);
      return;
    }
    const xs = all.map((p) => p[0]);
    const ys = all.map((p) => p[1]);
    let [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
    let [yMin, yMax] = [Math.min(...ys), Math.max(...ys)];
    // A lone step stands in the middle, not against the left edge.
    if (xMax === xMin) { xMin = Math.max(0, xMin - 1); xMax = xMin + 2; }
    if (yMax === yMin) { yMax += 0.5; yMin -= 0.5; }
    const w = canvas.width - pad.left - pad.right;
    const h = canvas.height - pad.top - pad.bottom;
    const x = (v) => pad.left + ((v - xMin) / (xMax - xMin)) * w;
    const y = (v) => pad.top + h - ((v - yMin) / (yMax - yMin)) * h;

    ctx.strokeStyle = "#ccc";
    ctx.strokeRect(pad.left, pad.top, w, h);
    ctx.fillText(yMax.toPrecision(3), 4, pad.top + 8);
    ctx.fillText(yMin.toPrecision(3), 4, pad.top + h);
    ctx.fillText(`step ${xMin}`, pad.left, canvas.height - 8);
    ctx.fillText(`step ${xMax}`, pad.left + w - 50, canvas.height - 8);

    for (const series of SERIES) {
      const data = points[series.prefix + name];
      if (data.length === 0) continue;
      ctx.strokeStyle = series.colour;
      ctx.fillStyle = series.colour;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      data.forEach(([sx, sy], i) => (i ? ctx.lineTo(x(sx), y(sy)) : ctx.moveTo(x(sx), y(sy))));
      ctx.stroke();
      // Evaluations are sparse: mark each one.
      if (data.length === 1 || series.prefix) {
        data.forEach(([sx, sy]) => ctx.fillRect(x(sx) - 2, y(sy) - 2, 4, 4));
      }
    }
  }

  async function refresh() {
    let state = "";
    try {
      const response = await fetch(`${box.dataset.url}?after=${lastStep}`, { credentials: "same-origin" });
      const body = await response.json();
      state = body.state;
      for (const point of body.metrics) {
        for (const name of Object.keys(points)) {
          if (typeof point[name] === "number") points[name].push([point.step, point[name]]);
        }
        lastStep = Math.max(lastStep, point.step);
      }
    } catch (error) {
      // A missed poll is fine; the next one catches up.
    }
    names.forEach(draw);
    const finished = ["JOB_STATE_COMPLETED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"];
    if (!finished.includes(state)) setTimeout(refresh, 3000);
  }

  refresh();
})();
