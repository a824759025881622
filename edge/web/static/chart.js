// Plain canvas charts for the web view (no library, works offline). Exposes window.EdgeChart.
(function () {
  "use strict";
  const colours = JSON.parse(document.body.dataset.colours || "{}");
  const FALLBACK = "#c0c0c0";
  const PAD = { left: 36, right: 8, top: 8, bottom: 22 };

  function colour(label) { return colours[label] || FALLBACK; }

  function minutes(seconds) {
    return seconds >= 120 ? Math.round(seconds / 60) + " min" : Math.round(seconds) + " s";
  }

  // Stacked bars: one per time bucket, each split into the emotion shares of that bucket.
  function drawShares(canvas, stats) {
    const ctx = canvas.getContext("2d");
    const w = canvas.width, h = canvas.height;
    const plotW = w - PAD.left - PAD.right, plotH = h - PAD.top - PAD.bottom;
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "#9aa3ad";
    ctx.strokeStyle = "#3a424b";
    ctx.font = "11px sans-serif";
    for (const frac of [0, 0.5, 1]) {
      const y = PAD.top + plotH * (1 - frac);
      ctx.beginPath(); ctx.moveTo(PAD.left, y); ctx.lineTo(w - PAD.right, y); ctx.stroke();
      ctx.fillText(Math.round(frac * 100) + "%", 4, y + 4);
    }
    ctx.fillText("-" + minutes(stats.window_s), PAD.left, h - 6);
    ctx.fillText("now", w - PAD.right - 22, h - 6);
    // One slot per bucket counted back from now (the current bucket rightmost), so no two bars share a slot, and
    // a bucket older than the window (the stats keep one more while it ages out) is not drawn over the axis.
    const slots = Math.max(1, Math.round(stats.window_s / stats.bucket_s));
    const slotW = plotW / slots;
    const barW = Math.max(1, slotW - 1);
    let drawn = 0;
    for (const bucket of stats.buckets) {
      const back = Math.floor(bucket.age_s / stats.bucket_s);
      if (!bucket.faces || back < 0 || back >= slots) continue;
      const x = PAD.left + plotW - back * slotW - barW;
      let top = PAD.top + plotH;
      for (const label of stats.labels) {
        const share = bucket.shares[label] || 0;
        if (share <= 0) continue;
        const bh = share * plotH;
        top -= bh;
        ctx.fillStyle = colour(label);
        ctx.fillRect(x, top, barW, bh);
      }
      drawn += 1;
    }
    canvas.dataset.buckets = String(drawn);
    canvas.dataset.draws = String(Number(canvas.dataset.draws || 0) + 1);
    return drawn;
  }

  // Horizontal probability bars as DOM elements (label, bar, value).
  function bars(probs) {
    const box = document.createElement("div");
    for (const [label, p] of Object.entries(probs)) {
      const row = document.createElement("div");
      row.className = "bar";
      const name = document.createElement("span");
      name.className = "name"; name.textContent = label;
      const track = document.createElement("span");
      track.className = "track";
      const fill = document.createElement("span");
      fill.className = "fill";
      fill.style.display = "block";
      fill.style.width = (100 * p).toFixed(1) + "%";
      fill.style.background = colour(label);
      track.appendChild(fill);
      const value = document.createElement("span");
      value.className = "value"; value.textContent = (100 * p).toFixed(0) + "%";
      row.append(name, track, value);
      box.appendChild(row);
    }
    return box;
  }

  function legend(element, labels) {
    element.replaceChildren(...labels.map((label) => {
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = colour(label);
      item.append(swatch, label);
      return item;
    }));
  }

  window.EdgeChart = { colour, drawShares, bars, legend, minutes };
})();
