#!/usr/bin/env bash
# Creates the project-local virtual environment `.venv/` that holds libtorch (via PyPI's
# torch==2.11.0) and the Python packages the tests use as references. Idempotent: a venv whose
# stamp matches requirements.txt is left as it is.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
venv="$root/.venv"
req="$root/scripts/requirements.txt"
stamp="$venv/.adain-stamp"
want="$(sha256sum "$req" | cut -d' ' -f1)"
# Debian packages the tests use as real components: FFmpeg (`adain video`), Chromium and its
# WebDriver (the browser test of `adain serve`). Installed when running as root.
missing=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
# The light build cross-built for aarch64 and run under emulation by its test: Debian's cross
# linker and C library, and qemu's user-mode emulator.
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || missing+=(gcc-aarch64-linux-gnu)
[ -d /usr/aarch64-linux-gnu/lib ] || missing+=(libc6-dev-arm64-cross)
command -v qemu-aarch64-static >/dev/null 2>&1 || missing+=(qemu-user-static)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "adain: installing ${missing[*]} (apt-get)" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  else
    echo "adain: ${missing[*]} not found; adain video, the browser test and their tests need them (sudo apt-get install ${missing[*]})" >&2
  fi
fi
# onnxruntime-web from the npm registry (pinned, its sha512 checked): the page runs the lite
# network in the visitor's browser with it (MIT licence, in its package.json); `adain serve`
# serves its runtime files from the cache dir: the WebAssembly build, and the WebGPU build the
# page takes where the browser has a WebGPU adapter. Fetched with Python alone (no node needed); kept once there.
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
# Rust's standard library for aarch64 (the light build's cross-build), through rustup.
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  echo "adain: adding the Rust target aarch64-unknown-linux-gnu (rustup)" >&2
  rustup target add aarch64-unknown-linux-gnu >&2 || echo "adain: no aarch64 target: the light build's aarch64 test cannot run" >&2
fi
link_libtorch() {
  # A stable path to the venv's libtorch for .cargo/config.toml (LIBTORCH) and the rpath.
  local torch_dir
  torch_dir="$("$venv/bin/python" -c 'import torch, os, sys; print(os.path.relpath(os.path.dirname(torch.__file__), sys.prefix))')"
  ln -sfn "$torch_dir" "$venv/libtorch"
}
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -e "$venv/libtorch/lib/libtorch.so" ]; then
  exit 0
fi
py="${PYTHON:-python3}"
echo "adain: creating $venv (torch 2.11.0 and test references; first time only, a few minutes)" >&2
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip >&2
"$venv/bin/python" -m pip install -q --progress-bar off -r "$req" >&2
link_libtorch
echo "$want" > "$stamp"
echo "adain: venv ready" >&2
