// The adain page: no framework, no CDN; everything is served by `adain serve`.
"use strict";

const $ = (id) => document.getElementById(id);
// Where things are: `adain serve`'s API, or the files of a static site (`adain export --web`,
// which marks its page <html data-site="static">): there everything runs in the browser.
const STATIC = document.documentElement.dataset.site === "static";
const urls = STATIC
  ? { settings: "settings.json", styles: "gallery.json" }
  : { settings: "/api/settings", liteSettings: "/api/settings?model=lite", styles: "/api/styles" };
const thumbUrl = (s) => s.thumb || "/api/styles/" + encodeURIComponent(s.id);
const imageUrl = (s) => s.image || "/api/styles/" + encodeURIComponent(s.id) + "/image";
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
  clearResult();
  if (state.contentUrl) URL.revokeObjectURL(state.contentUrl);
  state.contentUrl = URL.createObjectURL(blob);
  const p = $("content-preview");
  // A file that claims to be an image but is not one is refused here, at the picker.
  p.onerror = () => {
    state.content = null;
    p.hidden = true;
    $("drop-help").hidden = false;
    showError(`${blob.name || "That file"}: not an image this browser can read.`);
  };
  p.onload = () => { state.content = blob; showError(""); };
  p.src = state.contentUrl;
  p.hidden = false;
  p.alt = "the chosen photo";
  $("drop-help").hidden = true;
  showError("");
}

// Hides the previous result (a new photo makes it stale).
function clearResult() {
  $("compare").hidden = true;
  $("split").hidden = true;
  $("split-label").hidden = true;
  $("download").hidden = true;
  setStatus("");
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
  // The second style is never the first one (that would mix a style with itself).
  if (galleryId === "gallery" && state.style2 === id) {
    const other = [...$("gallery2").querySelectorAll("button")].find((b) => b.dataset.id !== id);
    if (other) selectIn("gallery2", other.dataset.id);
  }
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
  im.src = s.url || thumbUrl(s);
  im.alt = "";
  im.loading = "lazy";
  b.appendChild(im);
  // The title and artist under the picture (the second style's small tiles hide it).
  const caption = document.createElement("span");
  caption.className = "caption";
  caption.textContent = s.name;
  caption.setAttribute("aria-hidden", "true");
  b.appendChild(caption);
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
  const r = await fetch(urls.styles);
  if (!r.ok) { showError("Gallery: " + (await errorText(r))); return; }
  const j = await r.json();
  for (const s of j.styles) { local.styles.set(s.id, s); addToGallery("gallery", s); addToGallery("gallery2", s); }
  if (j.styles.length) { selectIn("gallery", j.styles[0].id); selectIn("gallery2", j.styles[Math.min(1, j.styles.length - 1)].id); }
}

$("style-file").addEventListener("change", async (e) => {
  const f = e.target.files[0];
  if (!f) return;
  if (STATIC || runsLocally()) {
    // Kept in this page only: nothing is uploaded.
    const url = URL.createObjectURL(f);
    try {
      await loadImage(url);
    } catch {
      URL.revokeObjectURL(url);
      showError(`${f.name}: not an image this browser can read.`);
      e.target.value = "";
      return;
    }
    const id = "local-" + (++local.uploads);
    // `file`: sent with a request when the style is used on the server after all.
    const s = { id, name: f.name, url, image: url, file: f };
    local.styles.set(id, s);
    addToGallery("gallery", s);
    addToGallery("gallery2", s);
    selectIn("gallery", id);
    setStatus("Style added (kept in this page).");
    showError("");
    return;
  }
  const fd = new FormData();
  fd.append("style", f, f.name);
  setStatus("Uploading the style…");
  const r = await fetch("/api/styles", { method: "POST", body: fd });
  e.target.value = "";
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
$("alpha").addEventListener("input", (e) => { $("alpha-out").textContent = e.target.value + " %"; rerunSoon(); });

// On this device a run takes well under a second: a changed strength runs again by itself
// (after the slider rests for 300 ms), when there is a result to update.
let rerunTimer = null;
function rerunSoon() {
  if (!runsLocally() || $("download").hidden || $("run").disabled) return;
  clearTimeout(rerunTimer);
  rerunTimer = setTimeout(() => $("run").click(), 300);
}

// The settings start at the server's defaults (GET /api/settings), written once in adain's
// library, not here.
function selectValue(id, value) {
  const sel = $(id);
  if (![...sel.options].some((o) => o.value === String(value))) {
    sel.add(new Option(`${value} px`, String(value)));
  }
  sel.value = String(value);
}
const defaults = {};
// The lite network's own defaults (its palette matching), for the runs in the browser; the
// static site's settings are the lite network's already.
const liteDefaults = {};
async function loadSettings() {
  const [r, rl] = await Promise.all([fetch(urls.settings), urls.liteSettings ? fetch(urls.liteSettings) : null]);
  if (!r.ok) { showError("Settings: " + await errorText(r)); return; }
  const d = await r.json();
  Object.assign(defaults, d);
  Object.assign(liteDefaults, rl === null ? d : rl.ok ? await rl.json() : {});
  $("alpha").value = String(Math.round(d.alpha * 100));
  $("alpha-out").textContent = $("alpha").value + " %";
  $("preserve").checked = d.preserve_color;
  selectValue("size", d.content_size);
  selectValue("live-size", d.live_size);
  $("live-temporal").value = String(Math.round(d.temporal * 100));
  $("live-temporal-out").textContent = d.temporal.toFixed(2);
}

// A style in a server request: a gallery id, or the file of a style kept in this page.
function appendStyle(fd, id) {
  const s = local.styles.get(id);
  if (s && s.file) fd.append("style", s.file, s.file.name || "style"); else fd.append("style_id", id);
}

// The server's id of a style for live mode: a style kept in this page is uploaded once.
async function serverStyleId(id) {
  const s = local.styles.get(id);
  if (!s || !s.file) return id;
  if (!s.serverId) {
    const fd = new FormData();
    fd.append("style", s.file, s.file.name || "style");
    const r = await fetch("/api/styles", { method: "POST", body: fd });
    if (!r.ok) throw new Error("style upload: " + (await errorText(r)));
    s.serverId = (await r.json()).id;
  }
  return s.serverId;
}

function form() {
  const fd = new FormData();
  fd.append("content", state.content, "content");
  appendStyle(fd, state.style);
  const combine = $("combine").checked && state.style2;
  if (combine) {
    appendStyle(fd, state.style2);
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

// ---- in the browser (onnxruntime-web, ./local.js) or on the server ----
const local = { engine: null, images: new Map(), styles: new Map(), codes: new Map(), uploads: 0 };
const localModule = () => import(new URL("local.js", document.baseURI).href);
const runsLocally = () => local.engine && $("where-local").checked;

// An image element, loaded.
function loadImage(url) {
  return new Promise((ok, fail) => {
    const im = new Image();
    im.onload = () => ok(im);
    im.onerror = () => fail(new Error(`${url}: not an image`));
    im.src = url;
  });
}

// A gallery style's full image (kept for the next run).
async function styleImage(id) {
  if (!local.images.has(id)) local.images.set(id, loadImage(imageUrl(local.styles.get(id) || { id })));
  return local.images.get(id);
}

async function initLocal() {
  try {
    const { createLocal } = await localModule();
    // `?backend=wasm`: WebAssembly even where the browser has WebGPU.
    local.engine = await createLocal(new URL(".", document.baseURI).href, new URLSearchParams(location.search).get("backend"));
    $("where-local").disabled = false;
    $("where-local").checked = true;
    const gpu = local.engine.gpuError ? `; not WebGPU: ${local.engine.gpuError}` : "";
    $("local-state").textContent = `(${local.engine.backend}${gpu})`;
  } catch (err) {
    $("local-state").textContent = "(not available here: " + err.message + ")";
    if (STATIC) showError("This browser cannot run the network: " + err.message);
  }
  return local.engine;
}

// The style to run on this device: the first style, or the first and second mixed by the
// ratio (codes and palettes mixed, as the server mixes them); with `keep` (a photo's planar
// data) each painting is recoloured to the photo's colours first. Codes of unrecoloured
// styles are kept for the next run.
async function localStyle(keep = null) {
  const { scaled } = await localModule();
  await settingsLoaded;
  const one = async (id) => {
    const canvas = scaled(await styleImage(id), defaults.style_size);
    if (keep) return local.engine.style(canvas, keep);
    if (!local.codes.has(id)) local.codes.set(id, local.engine.style(canvas).catch((e) => { local.codes.delete(id); throw e; }));
    return local.codes.get(id);
  };
  if (!($("combine").checked && state.style2)) return one(state.style);
  const r = Number($("ratio").value) / 100;
  return local.engine.mix([[await one(state.style), 1 - r], [await one(state.style2), r]]);
}

// Stylizes `contentEl` on this device with the chosen style(s), size and strength; a canvas.
async function stylizeLocally(contentEl, size, alpha) {
  const { scaled, planar } = await localModule();
  const content = scaled(contentEl, size);
  const style = await localStyle($("preserve").checked ? planar(content) : null);
  const r = await local.engine.frame(content, style, alpha, liteDefaults.match_palette ?? 1);
  return local.engine.toCanvas(r.data, r.width, r.height);
}

async function showResult(blob, t0, where) {
  if (state.resultUrl) URL.revokeObjectURL(state.resultUrl);
  state.resultUrl = URL.createObjectURL(blob);
  const res = $("result-img");
  await new Promise((ok, fail) => { res.onload = ok; res.onerror = () => fail(new Error("the result is not an image")); res.src = state.resultUrl; });
  $("before-img").src = state.contentUrl;
  // As large as the panel allows, within 80 % of the window's height, keeping the aspect; the
  // photo and the result share that box, so the before/after split lies on the image.
  const aspect = res.naturalWidth / res.naturalHeight;
  $("compare").style.width = `min(100%, ${Math.round(0.8 * window.innerHeight * aspect)}px)`;
  $("compare").hidden = false;
  $("split").hidden = false;
  $("split-label").hidden = false;
  $("split").value = 100;
  res.style.clipPath = "none";
  const dl = $("download");
  dl.href = state.resultUrl;
  dl.hidden = false;
  setStatus(`Done in ${((performance.now() - t0) / 1000).toFixed(1)} s ${where}: ${res.naturalWidth}×${res.naturalHeight} px.`);
}

async function runLocal(t0) {
  if ($("combine").checked && state.mask) {
    throw new Error("A mask runs on the server: choose “On the server” for it, or remove the mask.");
  }
  setStatus("Stylizing on this device…");
  const canvas = await stylizeLocally($("content-preview"), Number($("size").value), Number($("alpha").value) / 100);
  const blob = await new Promise((ok) => canvas.toBlob(ok, "image/png"));
  await showResult(blob, t0, `on this device, nothing uploaded (${local.engine.backend})`);
}

// `?selftest=1`: the built-in photo with the built-in painting, in the browser; the result
// goes to <body data-selftest="ok MS BACKEND"> (or "error …") for tests and deployments.
async function selftest() {
  try {
    if (!(await initLocal())) throw new Error("no in-browser runtime: " + $("local-state").textContent);
    const t0 = performance.now();
    state.style = "starry_night";
    const canvas = await stylizeLocally(await styleImage("chelsea"), 256, 1);
    if (canvas.width < 1 || canvas.height !== 256) throw new Error(`result of ${canvas.width}×${canvas.height}`);
    document.body.dataset.selftest = `ok ${Math.round(performance.now() - t0)} ${local.engine.backend}`;
  } catch (err) {
    document.body.dataset.selftest = "error " + err.message;
  }
}

$("run").addEventListener("click", async () => {
  showError("");
  if (!state.content) { showError("Choose a photo first."); return; }
  if (!state.style) { showError("Choose a style first."); return; }
  const run = $("run");
  run.disabled = true;
  const t0 = performance.now();
  if (runsLocally()) {
    try {
      await runLocal(t0);
    } catch (err) {
      showError(err.message);
      setStatus("");
    } finally {
      run.disabled = false;
    }
    return;
  }
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
    await showResult(await img.blob(), t0, "on the server");
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

// ---- live mode: in the browser when the page runs the network here, else over a WebSocket ----
const live = { ws: null, stream: null, running: false, frames: [], sentAt: 0, url: null, count: 0 };

// Counts a shown frame: frames/s over the last 2 s, and how long the frame took.
function liveTick(ms) {
  const now = performance.now();
  live.count++;
  live.frames.push(now);
  live.frames = live.frames.filter((t) => now - t < 2000);
  const fps = live.frames.length > 1 ? (live.frames.length - 1) / ((now - live.frames[0]) / 1000) : 0;
  $("live-fps").textContent = fps.toFixed(1);
  $("live-latency").textContent = Math.round(ms);
}

// The in-browser loop: each camera frame at the live size through the frame graph, shown on
// a canvas; the style (code) is made again only when the style settings change. Keeping the
// photo's colours recolours the painting to the first frame after such a change, and each
// result to its own frame's colours. Smoothing blends each result with the previous one where
// the camera frame did not change (the server's smoothing also follows the camera's motion;
// here what moves is simply not blended, so nothing drags behind it).
async function runLiveLocally() {
  const { scaled, planar, moments } = await localModule();
  const v = $("live-video");
  const out = $("live-canvas");
  let style = null, key = null, prev = null;
  live.where = "local";
  $("live-where").textContent = "on this device (nothing is uploaded)";
  while (live.running) {
    const t0 = performance.now();
    const frame = scaled(v, Number($("live-size").value));
    const keep = $("preserve").checked;
    const k = JSON.stringify([state.style, $("combine").checked && state.style2, $("ratio").value, keep]);
    const pixels = keep ? planar(frame) : null;
    if (k !== key) { style = await localStyle(pixels); key = k; }
    const s = keep ? { code: style.code, palette: moments(pixels) } : style;
    const r = await local.engine.frame(frame, s, Number($("alpha").value) / 100, liteDefaults.match_palette ?? 1, pixels);
    const input = pixels || planar(frame);
    const t = Number($("live-temporal").value) / 100;
    if (t > 0 && prev && prev.out.length === r.data.length) {
      // Where the camera frame changed (motion, not sensor noise) the result is not blended.
      const n = input.length / 3;
      for (let i = 0; i < n; i++) {
        const d = (Math.abs(input[i] - prev.input[i]) + Math.abs(input[n + i] - prev.input[n + i]) + Math.abs(input[2 * n + i] - prev.input[2 * n + i])) / 3;
        const keep = t * Math.max(0, 1 - d / 0.1);
        for (let c = 0; c < 3; c++) r.data[c * n + i] = keep * prev.out[c * n + i] + (1 - keep) * r.data[c * n + i];
      }
    }
    prev = { out: r.data, input };
    if (!live.running) break;
    local.engine.toCanvas(r.data, r.width, r.height, out);
    out.hidden = false;
    liveTick(performance.now() - t0);
    // Let the page paint and take input between frames.
    await new Promise((ok) => requestAnimationFrame(ok));
  }
}

// The settings live mode sends the server: the style (and a second one mixed in), strength,
// colour preservation, size and smoothing, as set above.
async function liveSettings() {
  const s = { style_id: await serverStyleId(state.style), alpha: Number($("alpha").value) / 100, size: Number($("live-size").value), temporal: Number($("live-temporal").value) / 100, preserve_color: $("preserve").checked };
  if ($("combine").checked && state.style2) { s.style2_id = await serverStyleId(state.style2); s.mix = Number($("ratio").value) / 100; }
  return JSON.stringify(s);
}

// Sends the settings on an open live connection.
async function sendLiveSettings() {
  if (!live.ws || live.ws.readyState !== 1) return;
  try {
    const text = await liveSettings();
    if (live.ws && live.ws.readyState === 1) live.ws.send(text);
  } catch (err) { showError("Live: " + err.message); stopLive(); }
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
  // A stopped stream shows no rate and no frozen frame.
  $("live-fps").textContent = "0.0";
  $("live-latency").textContent = "–";
  $("live-output").hidden = true;
  $("live-canvas").hidden = true;
  $("live-where").textContent = "";
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
  live.frames = [];
  live.count = 0;
  $("live-start").disabled = true;
  $("live-stop").disabled = false;
  if (runsLocally()) {
    live.running = true;
    runLiveLocally().catch((err) => { showError("Live: " + err.message); stopLive(); });
    return;
  }
  live.where = "server";
  $("live-where").textContent = "on the server";
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/api/live`);
  ws.binaryType = "blob";
  live.ws = ws;
  live.frames = [];
  ws.onopen = async () => { await sendLiveSettings(); if (live.ws !== ws) return; live.running = true; sendFrame(); };
  ws.onmessage = (m) => {
    if (m.data instanceof Blob) {
      liveTick(performance.now() - live.sentAt);
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
});
$("live-stop").addEventListener("click", stopLive);
for (const id of ["live-size", "live-temporal", "alpha", "preserve", "combine", "ratio"]) {
  $(id).addEventListener("change", sendLiveSettings);
}
$("live-temporal").addEventListener("input", (e) => { $("live-temporal-out").textContent = (Number(e.target.value) / 100).toFixed(2); });
for (const id of ["gallery", "gallery2"]) {
  $(id).addEventListener("click", sendLiveSettings);
}

if (STATIC) {
  // No server behind a static site: everything runs here, and the page says so.
  $("where-server").disabled = true;
  $("where-server").closest("label").hidden = true;
  $("intro").textContent = "Repaint any photo in the style of any painting (AdaIN, Huang & Belongie 2017). Everything runs in your browser: nothing is uploaded.";
  $("footer-text").textContent = "A static site made by adain export --web: the lite network runs in this browser (onnxruntime-web).";
}
const settingsLoaded = loadSettings();
loadGallery();
if (new URLSearchParams(location.search).has("selftest")) selftest(); else initLocal();
