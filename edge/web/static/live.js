// Live page: polls /api/state once a second; the <img> shows the MJPEG stream by itself.
(function () {
  "use strict";
  const POLL_MS = 1000;
  const STREAM_RETRY_MS = 3000;
  const $ = (id) => document.getElementById(id);

  function faceCard(face) {
    const card = document.createElement("div");
    card.className = "face";
    card.style.borderLeftColor = EdgeChart.colour(face.label);
    const title = document.createElement("div");
    title.className = "title";
    title.textContent = "#" + face.track_id + " " + face.label + " " + Math.round(100 * face.confidence) + "%";
    card.append(title, EdgeChart.bars(face.probs));
    return card;
  }

  function render(state) {
    const frame = state.frame;
    $("status").textContent = frame
      ? frame.source + " | frame " + frame.index + " | " + frame.fps.toFixed(1) + " FPS | " +
        frame.width + "x" + frame.height + " | " + frame.age_s.toFixed(1) + " s ago"
      : "waiting for frames...";
    const faces = $("faces");
    if (state.faces.length) faces.replaceChildren(...state.faces.map(faceCard));
    else faces.innerHTML = '<p class="muted">no faces</p>';
    const stats = state.stats;
    $("window").textContent = EdgeChart.minutes(stats.window_s);
    EdgeChart.drawShares($("shares"), stats);
    EdgeChart.legend($("legend"), stats.labels);
    const totals = $("totals");
    totals.replaceChildren();
    if (stats.faces) totals.appendChild(EdgeChart.bars(stats.shares));
  }

  async function poll() {
    try {
      const response = await fetch("/api/state", { cache: "no-store" });
      if (!response.ok) throw new Error((await response.json()).message || response.statusText);
      render(await response.json());
      $("status").classList.remove("error");
    } catch (err) {
      $("status").textContent = "no connection to the device (" + err.message + ")";
      $("status").classList.add("error");
    }
    setTimeout(poll, POLL_MS);
  }

  $("stream").addEventListener("error", () => {
    setTimeout(() => { $("stream").src = "/stream.mjpg?retry=" + Date.now(); }, STREAM_RETRY_MS);
  });
  poll();
})();
