// The adain page: no framework, no CDN; everything is served by `adain serve`.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { content: null, contentUrl: null, style: null, style2: null, mask: null, resultUrl: null };

function showError(msg) {
  const e = $("error");
  e.textContent = msg;
  e.hidden = !msg;
}

function setStatus(msg) {
  $("status").textContent = msg;
}

async function errorText(resp) {
  try {
    const j = await resp.json();
    return j.error || resp.statusText;
  } catch (_) {
    return resp.status + " " + resp.statusText;
  }
}

// ---- content: file, drop, paste, camera snapshot ----
function setContent(blob) {
  if (!blob || !blob.type.startsWith("image/")) {
    showError("That is not an image.");
    return;
  }
  state.content = blob;
  if (state.contentUrl) URL.revokeObjectURL(state.contentUrl);
  state.contentUrl = URL.createObjectURL(blob);
  const p = $("content-preview");
  p.src = state.contentUrl;
  p.hidden = false;
  p.alt = "the chosen photo";
  $("drop-help").hidden = true;
  showError("");
}

$("content-file").addEventListener("change", (e) => setContent(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files.length) setContent(e.dataTransfer.files[0]);
});
drop.addEventListener("keydown", (e) => {
  if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("content-file").click(); }
});
document.addEventListener("paste", (e) => {
  for (const item of e.clipboardData.items) {
    if (item.type.startsWith("image/")) { setContent(item.getAsFile()); return; }
  }
});

async function cameraStream() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error("This browser gives no camera access here (it needs https or localhost).");
  return navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 } }, audio: false });
}

$("snap").addEventListener("click", async () => {
  try {
    const stream = await cameraStream();
    const v = $("snap-video");
    v.srcObject = stream;
    await v.play();
    await new Promise((r) => setTimeout(r, 300));
    const c = document.createElement("canvas");
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    c.getContext("2d").drawImage(v, 0, 0);
    stream.getTracks().forEach((t) => t.stop());
    c.toBlob((b) => setContent(b), "image/png");
  } catch (err) {
    showError("Camera: " + err.message);
  }
});

// ---- styles: gallery, upload, second style, mask ----
function selectIn(galleryId, id) {
  for (const b of $(galleryId).querySelectorAll("button")) {
    const on = b.dataset.id === id;
    b.setAttribute("aria-checked", on ? "true" : "false");
    b.tabIndex = on ? 0 : -1;
  }
  if (galleryId === "gallery") state.style = id; else state.style2 = id;
}

function addToGallery(galleryId, s) {
  const b = document.createElement("button");
  b.type = "button";
  b.setAttribute("role", "radio");
  b.setAttribute("aria-checked", "false");
  b.dataset.id = s.id;
  b.title = s.name;
  b.setAttribute("aria-label", s.name);
  const im = document.createElement("img");
  im.src = "/api/styles/" + encodeURIComponent(s.id);
  im.alt = "";
  im.loading = "lazy";
  b.appendChild(im);
  b.addEventListener("click", () => selectIn(galleryId, s.id));
  b.addEventListener("keydown", (e) => {
    const all = [...$(galleryId).querySelectorAll("button")];
    const i = all.indexOf(b);
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key];
    if (step) {
      e.preventDefault();
      const n = all[(i + step + all.length) % all.length];
      selectIn(galleryId, n.dataset.id);
      n.focus();
    }
  });
  $(galleryId).appendChild(b);
}

async function loadGallery() {
  const r = await fetch("/api/styles");
  if (!r.ok) { showError("Gallery: " + (await errorText(r))); return; }
  const j = await r.json();
  for (const s of j.styles) { addToGallery("gallery", s); addToGallery("gallery2", s); }
  if (j.styles.length) { selectIn("gallery", j.styles[0].id); selectIn("gallery2", j.styles[Math.min(1, j.styles.length - 1)].id); }
}

$("style-file").addEventListener("change", async (e) => {
  const f = e.target.files[0];
  if (!f) return;
  const fd = new FormData();
  fd.append("style", f, f.name);
  setStatus("Uploading the style…");
  const r = await fetch("/api/styles", { method: "POST", body: fd });
  if (!r.ok) { showError("Style upload: " + (await errorText(r))); setStatus(""); return; }
  const s = await r.json();
  if (!$("gallery").querySelector(`[data-id="${s.id}"]`)) { addToGallery("gallery", s); addToGallery("gallery2", s); }
  selectIn("gallery", s.id);
  setStatus("Style added to the gallery.");
  showError("");
});

$("combine").addEventListener("change", (e) => { $("second").hidden = !e.target.checked; });
$("ratio").addEventListener("input", (e) => { $("ratio-out").textContent = e.target.value + " %"; });
$("mask-file").addEventListener("change", (e) => {
  state.mask = e.target.files[0] || null;
  $("mask-name").textContent = state.mask ? state.mask.name : "white areas take the first style, black the second";
  $("mask-clear").hidden = !state.mask;
});
$("mask-clear").addEventListener("click", () => {
  state.mask = null;
  $("mask-file").value = "";
  $("mask-name").textContent = "white areas take the first style, black the second";
  $("mask-clear").hidden = true;
});

// ---- settings and the run ----
$("alpha").addEventListener("input", (e) => { $("alpha-out").textContent = e.target.value + " %"; });

function form() {
  const fd = new FormData();
  fd.append("content", state.content, "content");
  fd.append("style_id", state.style);
  const combine = $("combine").checked && state.style2;
  if (combine) {
    fd.append("style_id", state.style2);
    if (state.mask) {
      fd.append("mask", state.mask, "mask");
    } else {
      const r = Number($("ratio").value) / 100;
      fd.append("style_weights", `${1 - r},${r}`);
    }
  }
  fd.append("alpha", String(Number($("alpha").value) / 100));
  fd.append("preserve_color", $("preserve").checked ? "true" : "false");
  fd.append("size", $("size").value);
  fd.append("format", "png");
  return fd;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

$("run").addEventListener("click", async () => {
  showError("");
  if (!state.content) { showError("Choose a photo first."); return; }
  if (!state.style) { showError("Choose a style first."); return; }
  const run = $("run");
  run.disabled = true;
  const t0 = performance.now();
  try {
    setStatus("Uploading…");
    const r = await fetch("/api/jobs", { method: "POST", body: form() });
    if (!r.ok) throw new Error(await errorText(r));
    const { id } = await r.json();
    for (;;) {
      const s = await (await fetch("/api/jobs/" + id)).json();
      if (s.state === "queued") setStatus(`Waiting in the queue: position ${s.position}…`);
      else if (s.state === "running") setStatus(`Stylizing… ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      else if (s.state === "failed") throw new Error(s.error);
      else if (s.state === "done") break;
      await sleep(200);
    }
    const img = await fetch(`/api/jobs/${id}/result`);
    if (!img.ok) throw new Error(await errorText(img));
    const blob = await img.blob();
    if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
    state.resultUrl = URL.createObjectURL(blob);
    const res = $("result-img");
    await new Promise((ok, fail) => { res.onload = ok; res.onerror = () => fail(new Error("the result is not an image")); res.src = state.resultUrl; });
    $("before-img").src = state.contentUrl;
    $("compare").hidden = false;
    $("split").hidden = false;
    $("split-label").hidden = false;
    $("split").value = 100;
    res.style.clipPath = "none";
    const dl = $("download");
    dl.href = state.resultUrl;
    dl.hidden = false;
    setStatus(`Done in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${res.naturalWidth}×${res.naturalHeight} px.`);
  } catch (err) {
    showError(err.message);
    setStatus("");
  } finally {
    run.disabled = false;
  }
});

$("split").addEventListener("input", (e) => {
  $("result-img").style.clipPath = `inset(0 ${100 - Number(e.target.value)}% 0 0)`;
});

// ---- live mode ----
const live = { ws: null, stream: null, running: false, frames: [], sentAt: 0, url: null };

function liveSettings() {
  return JSON.stringify({ style_id: state.style, alpha: Number($("alpha").value) / 100, size: Number($("live-size").value), temporal: Number($("live-temporal").value) / 100 });
}

function sendFrame() {
  if (!live.running) return;
  const v = $("live-video");
  const size = Number($("live-size").value);
  const scale = size / Math.min(v.videoWidth || size, v.videoHeight || size);
  const c = document.createElement("canvas");
  c.width = Math.max(16, Math.round((v.videoWidth || size) * scale));
  c.height = Math.max(16, Math.round((v.videoHeight || size) * scale));
  c.getContext("2d").drawImage(v, 0, 0, c.width, c.height);
  c.toBlob((b) => { if (live.running && live.ws.readyState === 1) { live.sentAt = performance.now(); live.ws.send(b); } }, "image/jpeg", 0.85);
}

function stopLive() {
  live.running = false;
  if (live.ws) live.ws.close();
  if (live.stream) live.stream.getTracks().forEach((t) => t.stop());
  live.ws = null;
  live.stream = null;
  $("live-start").disabled = false;
  $("live-stop").disabled = true;
}

$("live-start").addEventListener("click", async () => {
  showError("");
  if (!state.style) { showError("Choose a style first."); return; }
  try {
    live.stream = await cameraStream();
  } catch (err) { showError("Camera: " + err.message); return; }
  const v = $("live-video");
  v.srcObject = live.stream;
  await v.play();
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/api/live`);
  ws.binaryType = "blob";
  live.ws = ws;
  live.frames = [];
  ws.onopen = () => { ws.send(liveSettings()); live.running = true; sendFrame(); };
  ws.onmessage = (m) => {
    if (m.data instanceof Blob) {
      const now = performance.now();
      live.frames.push(now);
      live.frames = live.frames.filter((t) => now - t < 2000);
      const fps = live.frames.length > 1 ? (live.frames.length - 1) / ((now - live.frames[0]) / 1000) : 0;
      $("live-fps").textContent = fps.toFixed(1);
      $("live-latency").textContent = Math.round(now - live.sentAt);
      if (live.url) URL.revokeObjectURL(live.url);
      live.url = URL.createObjectURL(m.data);
      const out = $("live-output");
      out.src = live.url;
      out.hidden = false;
      return;
    }
    const j = JSON.parse(m.data);
    if (j.error) { showError("Live: " + j.error); stopLive(); return; }
    // After the stats of a frame (or a busy answer), send the next one.
    setTimeout(sendFrame, j.busy ? 100 : 0);
  };
  ws.onclose = () => { if (live.running) { showError("Live: the connection closed."); stopLive(); } };
  $("live-start").disabled = true;
  $("live-stop").disabled = false;
});
$("live-stop").addEventListener("click", stopLive);
for (const id of ["live-size", "live-temporal", "alpha"]) {
  $(id).addEventListener("change", () => { if (live.ws && live.ws.readyState === 1) live.ws.send(liveSettings()); });
}
$("live-temporal").addEventListener("input", (e) => { $("live-temporal-out").textContent = (Number(e.target.value) / 100).toFixed(2); });
$("gallery").addEventListener("click", () => { if (live.ws && live.ws.readyState === 1) live.ws.send(liveSettings()); });

loadGallery();
