// Photo page: posts the chosen file to /api/photo and shows the annotated image and one chart per face.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);

  function show(result) {
    const image = $("annotated");
    image.src = result.image;
    image.hidden = false;
    const results = $("results");
    results.replaceChildren(...result.faces.map((face) => {
      const card = document.createElement("div");
      card.className = "face";
      card.style.borderLeftColor = EdgeChart.colour(face.label);
      const title = document.createElement("div");
      title.className = "title";
      title.textContent = "face " + face.track_id + ": " + face.label + " " + Math.round(100 * face.confidence) + "%";
      const chart = document.createElement("img");
      chart.className = "chart";
      chart.alt = "probabilities of face " + face.track_id;
      chart.src = face.chart;
      card.append(title, chart);
      return card;
    }));
    $("message").textContent = result.faces.length
      ? result.faces.length + " face(s) found (" + result.width + "x" + result.height + ")"
      : "no faces found in this photo";
    $("message").className = "muted";
    $("message").dataset.faces = String(result.faces.length);
  }

  $("upload").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = $("file").files[0];
    if (!file) return;
    const body = new FormData();
    body.append("photo", file);
    $("send").disabled = true;
    $("message").textContent = "classifying...";
    try {
      const response = await fetch("/api/photo", { method: "POST", body });
      const data = await response.json().catch(() => ({ message: response.statusText }));
      if (!response.ok) throw new Error(data.message || response.statusText);
      show(data);
    } catch (err) {
      $("annotated").hidden = true;
      $("results").replaceChildren();
      $("message").textContent = "error: " + err.message;
      $("message").className = "error";
    } finally {
      $("send").disabled = false;
    }
  });
})();
