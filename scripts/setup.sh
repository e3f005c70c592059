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
# onnxruntime-web for the page's in-browser mode (also alone, for the light build).
scripts/fetch-ort-web.sh
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
