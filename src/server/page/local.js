// Stylization on the visitor's device: the lite network as two ONNX graphs in onnxruntime-web
// (WebAssembly with SIMD; with threads when the page is cross-origin isolated, which
// `adain serve` arranges with COOP/COEP headers). Nothing leaves the browser.
// The graphs are `adain export`'s lite halves: the style graph (`style` [1, 3, Hs, Ws], RGB in
// [0, 1] → `style_code` [1, 224]) runs once per style; the frame graph (`content`
// [1, 3, H, W], `style_code`, the scalar `alpha` → `stylized` [1, 3, H, W]) runs per photo or
// camera frame. Style codes mix linearly, so two styles mix by a weighted sum of codes.

// A drawable (image, bitmap, canvas, video) scaled so that its shorter side is `size`
// (0: as it is), as a canvas.
export function scaled(src, size) {
  const w = src.videoWidth || src.naturalWidth || src.width;
  const h = src.videoHeight || src.naturalHeight || src.height;
  const k = size > 0 ? size / Math.min(w, h) : 1;
  const c = document.createElement("canvas");
  c.width = Math.max(1, Math.round(w * k));
  c.height = Math.max(1, Math.round(h * k));
  const g = c.getContext("2d");
  g.imageSmoothingQuality = "high";
  g.drawImage(src, 0, 0, c.width, c.height);
  return c;
}

// A canvas as planar float32 RGB data in [0, 1] (R plane, G plane, B plane).
export function planar(canvas) {
  const { width: w, height: h } = canvas;
  const px = canvas.getContext("2d").getImageData(0, 0, w, h).data;
  const out = new Float32Array(3 * w * h);
  for (let i = 0, n = w * h; i < n; i++) {
    out[i] = px[4 * i] / 255;
    out[n + i] = px[4 * i + 1] / 255;
    out[2 * n + i] = px[4 * i + 2] / 255;
  }
  return out;
}

// The mixture's palette: Σ w·E[xxᵀ] minus the mixed mean's outer product (adain's Palette::mix).
export function mixPalettes(parts) {
  const mean = [0, 1, 2].map((c) => parts.reduce((s, [p, w]) => s + w * p.mean[c], 0));
  const cov = [0, 1, 2].map((a) => [0, 1, 2].map((b) =>
    parts.reduce((s, [p, w]) => s + w * (p.cov[a][b] + p.mean[a] * p.mean[b]), 0) - mean[a] * mean[b]));
  return { mean, cov };
}

// RGB mean [3] and covariance [3][3] of planar data (R plane, G plane, B plane).
export function moments(d) {
  const n = d.length / 3;
  const mean = [0, 1, 2].map((c) => { let s = 0; for (let i = 0; i < n; i++) s += d[c * n + i]; return s / n; });
  const cov = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  for (let i = 0; i < n; i++) {
    const x = [d[i] - mean[0], d[n + i] - mean[1], d[2 * n + i] - mean[2]];
    for (let a = 0; a < 3; a++) for (let b = a; b < 3; b++) cov[a][b] += x[a] * x[b];
  }
  for (let a = 0; a < 3; a++) for (let b = a; b < 3; b++) { cov[a][b] /= n; cov[b][a] = cov[a][b]; }
  return { mean, cov };
}

// Eigen-decomposition of a symmetric 3×3 matrix (Jacobi rotations): { vals, vecs (columns) }.
function eigh3(m) {
  const a = m.map((r) => r.slice());
  const v = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < 3; p++) for (let q = p + 1; q < 3; q++) off += a[p][q] * a[p][q];
    if (off < 1e-30) break;
    for (let p = 0; p < 3; p++) {
      for (let q = p + 1; q < 3; q++) {
        if (Math.abs(a[p][q]) < 1e-300) continue;
        const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < 3; k++) {
          const akp = a[k][p], akq = a[k][q];
          a[k][p] = c * akp - s * akq;
          a[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < 3; k++) {
          const apk = a[p][k], aqk = a[q][k];
          a[p][k] = c * apk - s * aqk;
          a[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < 3; k++) {
          const vkp = v[k][p], vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { vals: [a[0][0], a[1][1], a[2][2]], vecs: v };
}

// The square root of a symmetric positive matrix (its inverse with `inverse`).
function sqrtm3(m, inverse) {
  const { vals, vecs } = eigh3(m);
  const d = vals.map((x) => { const r = Math.sqrt(Math.max(x, 1e-10)); return inverse ? 1 / r : r; });
  const out = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) out[i][j] += vecs[i][k] * d[k] * vecs[j][k];
  return out;
}

// Moves the colours of planar data `d` onto the target palette's mean and covariance by
// `strength` in [0, 1], as adain's match_palette does (variance `eps` added to both sides;
// adain's CORAL, which keeps the photo's colours, is this at strength 1 with eps 1e-5).
export function matchPalette(d, target, strength, eps = 1e-4) {
  if (strength <= 0) return d;
  const src = moments(d);
  const reg = (c) => c.map((r, i) => r.map((x, j) => x + (i === j ? eps : 0)));
  const a = sqrtm3(reg(target.cov), false), b = sqrtm3(reg(src.cov), true);
  const map = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) map[i][j] += a[i][k] * b[k][j];
  const n = d.length / 3, out = new Float32Array(d.length);
  for (let i = 0; i < n; i++) {
    const x = [d[i] - src.mean[0], d[n + i] - src.mean[1], d[2 * n + i] - src.mean[2]];
    for (let c = 0; c < 3; c++) {
      const moved = map[c][0] * x[0] + map[c][1] * x[1] + map[c][2] * x[2] + target.mean[c];
      out[c * n + i] = strength * moved + (1 - strength) * d[c * n + i];
    }
  }
  return out;
}

// Planar [3, H, W] data as a canvas (clamped to [0, 1]); into `c` when given.
function toCanvas(d, w, h, c = document.createElement("canvas")) {
  if (c.width !== w || c.height !== h) { c.width = w; c.height = h; }
  const g = c.getContext("2d");
  const im = g.createImageData(w, h);
  const n = w * h;
  for (let i = 0; i < n; i++) {
    im.data[4 * i] = Math.round(Math.min(1, Math.max(0, d[i])) * 255);
    im.data[4 * i + 1] = Math.round(Math.min(1, Math.max(0, d[n + i])) * 255);
    im.data[4 * i + 2] = Math.round(Math.min(1, Math.max(0, d[2 * n + i])) * 255);
    im.data[4 * i + 3] = 255;
  }
  g.putImageData(im, 0, 0);
  return c;
}

// The browser's WebGPU adapter, or null when it offers none.
async function gpuAdapter() {
  if (!navigator.gpu) return null;
  try {
    return await navigator.gpu.requestAdapter();
  } catch {
    return null;
  }
}

// Loads the runtime and the two graphs; resolves to an engine, or rejects with the reason (the
// page then works through the server). WebGPU where the browser has an adapter (and the server
// the WebGPU build), else WebAssembly: SIMD, with threads when the page is cross-origin isolated.
// `backend` "wasm" asks for WebAssembly even where WebGPU is there; "webgpu" takes a software
// adapter too (SwiftShader, the CPU standing in for a GPU: 49 s against 1.7 s on WebAssembly
// for the self-test on a 2-core machine, so it is otherwise left alone).
export async function createLocal(base = "", backend = null) {
  let adapter = backend === "wasm" ? null : await gpuAdapter();
  let gpuError = null;
  const info = (adapter && adapter.info) || {};
  if (adapter && (info.isFallbackAdapter || info.architecture === "swiftshader") && backend !== "webgpu") {
    gpuError = `a software WebGPU adapter (${info.architecture || "fallback"}), slower than WebAssembly`;
    adapter = null;
  }
  if (adapter) {
    try {
      return await load(base, adapter);
    } catch (err) {
      gpuError = String(err && err.message ? err.message : err);
      console.warn("adain: WebGPU did not start, using WebAssembly:", err);
    }
  }
  // Why WebGPU is not used where the browser has it (for the page's status and tests).
  return Object.assign(await load(base, null), { gpuError });
}

// The engine on WebGPU (`adapter`) or WebAssembly (null). On an adapter without `shader-f16`
// the float32 graphs run (the float16 ones need it).
async function load(base, adapter) {
  const ort = await import(`${base}ort/${adapter ? "ort.webgpu.min.mjs" : "ort.wasm.min.mjs"}`);
  const threads = self.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
  ort.env.wasm.wasmPaths = new URL(`${base}ort/`, location.href).href;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  if (adapter) ort.env.webgpu.adapter = adapter;
  const f32 = adapter && !adapter.features.has("shader-f16");
  const providers = adapter ? ["webgpu"] : ["wasm"];
  const open = (half) =>
    ort.InferenceSession.create(`${base}models/lite-${half}${f32 ? "-f32" : ""}.onnx`, { executionProviders: providers });
  // One after the other: onnxruntime-web's WebGPU backend creates one session at a time.
  const styleGraph = await open("style");
  const frameGraph = await open("frame");
  const backend = adapter
    ? `webgpu${f32 ? "-f32" : ""}`
    : threads > 1 ? `wasm-simd-${threads}-threads` : "wasm-simd-1-thread";
  const engine = {
    backend,
    // A style from a canvas: { code: Float32Array [224], palette } (the painting's colour
    // moments). With `keep` (a content canvas's planar data) the painting is first recoloured
    // to the photo's colours (CORAL, adain's --preserve-color) and the palette is the photo's.
    async style(canvas, keep = null) {
      let d = planar(canvas);
      const palette = keep ? moments(keep) : moments(d);
      if (keep) d = Float32Array.from(matchPalette(d, palette, 1, 1e-5), (x) => Math.min(1, Math.max(0, x)));
      const t = new ort.Tensor("float32", d, [1, 3, canvas.height, canvas.width]);
      const code = (await styleGraph.run({ style: t })).style_code.data;
      return { code: Float32Array.from(code), palette };
    },
    // Several styles mixed by weights summing to 1: the codes and the palettes mixed.
    mix(parts) {
      const code = new Float32Array(parts[0][0].code.length);
      for (const [s, w] of parts) for (let i = 0; i < code.length; i++) code[i] += w * s.code[i];
      return { code, palette: mixPalettes(parts.map(([s, w]) => [s.palette, w])) };
    },
    // One photo or frame (a canvas) with a style from `style`/`mix` at strength alpha; the
    // result's colours are moved onto the style's palette by `palette` × alpha, as `adain
    // stylize --match-palette` does. `pixels`: the canvas's planar data, when the caller has it.
    // Returns planar data and its size ({ data, width, height }).
    async frame(canvas, style, alpha, palette = 1, pixels = null) {
      const { width: w, height: h } = canvas;
      const feeds = {
        content: new ort.Tensor("float32", pixels || planar(canvas), [1, 3, h, w]),
        style_code: new ort.Tensor("float32", style.code, [1, style.code.length]),
        alpha: new ort.Tensor("float32", new Float32Array([alpha]), []),
      };
      const out = (await frameGraph.run(feeds)).stylized.data;
      const clamped = Float32Array.from(out, (x) => Math.min(1, Math.max(0, x)));
      return { data: matchPalette(clamped, style.palette, palette * alpha), width: w, height: h };
    },
    toCanvas,
    // content, style: canvases at the sizes to run; resolves to a canvas.
    async stylize(content, style, alpha, palette = 1) {
      const r = await engine.frame(content, await engine.style(style), alpha, palette);
      return toCanvas(r.data, r.width, r.height);
    },
  };
  return engine;
}
