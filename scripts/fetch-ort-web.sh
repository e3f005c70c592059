#!/usr/bin/env bash
# onnxruntime-web from the npm registry (pinned, its sha512 checked): the page runs the lite
# network in the visitor's browser with it (MIT licence, in its package.json); `adain serve`
# and `adain export --web` take its runtime files from the cache dir: the WebAssembly build, and
# the WebGPU build the page takes where the browser has a WebGPU adapter. Fetched with Python
# alone (no node, no venv needed); kept once there. scripts/setup.sh runs it; a light build
# (`--no-default-features`) needs only this script for the page's in-browser mode.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ort_version=1.31.1
ort_dir="${ADAIN_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/adain}/onnxruntime-web-$ort_version"
if [ ! -f "$ort_dir/ort-wasm-simd-threaded.asyncify.wasm" ]; then
  echo "adain: fetching onnxruntime-web $ort_version (npm registry, 35 MB, once)" >&2
  "${PYTHON:-python3}" - "$ort_version" "$ort_dir" <<'PY' >&2 || echo "adain: onnxruntime-web not fetched: the page will stylize on the server only" >&2
import base64, hashlib, io, os, sys, tarfile, tempfile, urllib.request
version, dest = sys.argv[1], sys.argv[2]
integrity = "5GeH+bWQ+HxM10z7erGlsWqryrwMbSvm/1tkIsKTT48g0fI19VXVVC435t4t7VsPdSQeS7NmuZPXrQ73k82URw=="
url = f"https://registry.npmjs.org/onnxruntime-web/-/onnxruntime-web-{version}.tgz"
data = urllib.request.urlopen(url, timeout=120).read()
if base64.b64encode(hashlib.sha512(data).digest()).decode() != integrity:
    sys.exit(f"{url}: sha512 does not match the pinned integrity")
files = ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm", "ort.webgpu.min.mjs",
         "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm", "package.json"]
os.makedirs(os.path.dirname(dest), exist_ok=True)
tmp = tempfile.mkdtemp(dir=os.path.dirname(dest))
with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
    for name in files:
        member = f"package/{name}" if name == "package.json" else f"package/dist/{name}"
        with open(os.path.join(tmp, name), "wb") as f:
            f.write(t.extractfile(member).read())
if os.path.isdir(dest):
    import shutil
    shutil.rmtree(dest)
os.replace(tmp, dest)
print(f"onnxruntime-web {version}: {dest}")
PY
fi
