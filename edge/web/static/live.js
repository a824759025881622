// Live page: polls /api/state once a second; the <img> shows the MJPEG stream by itself, and is pointed at it
// again when it failed (also before this script ran: a busy server's 503), when the device comes back after a
// poll failed (a service restart ends the stream with its last picture frozen), or when the state comes from
// another process (`started` changed: a restart between two polls).
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

  let started = null;
  let retryTimer = null;

  function restartStream(delayMs) {
    if (retryTimer !== null) return;  // one pending restart at a time
    retryTimer = setTimeout(() => {
      retryTimer = null;
      $("stream").src = "/stream.mjpg?retry=" + Date.now();
    }, delayMs);
  }

  function render(state) {
    const frame = state.frame;
    if (started !== null && state.started !== started) restartStream(0);  // a new process: a new stream
    started = state.started;
    $("status").textContent = frame
      ? frame.source + " | frame " + frame.index + " | " + frame.fps.toFixed(1) + " FPS | " +
        frame.width + "x" + frame.height + " | " + frame.age_s.toFixed(1) + " s ago"
      : state.waiting || "waiting for frames...";
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

  let down = false;

  async function poll() {
    try {
      const response = await fetch("/api/state", { cache: "no-store" });
      if (!response.ok) throw new Error((await response.json()).message || response.statusText);
      render(await response.json());
      $("status").classList.remove("error");
      if (down) restartStream(0);  // back after a failed poll: the old stream ended with the old process
      down = false;
    } catch (err) {
      down = true;
      $("status").textContent = "no connection to the device (" + err.message + ")";
      $("status").classList.add("error");
    }
    setTimeout(poll, POLL_MS);
  }

  const stream = $("stream");
  stream.addEventListener("error", () => restartStream(STREAM_RETRY_MS));
  if (stream.complete && stream.naturalWidth === 0) restartStream(STREAM_RETRY_MS);  // failed before we listened
  poll();
})();
