# Sourced by every script (scripts/ and research/): strict mode, the repository root as the
# working directory ($root; the caller's in $caller), the Python of the environment scripts/setup.sh makes ($py), the
# PyTorch side of `adain bench` ($ADAIN_REFERENCE), and `need_bin`, which sets $bin to the
# adain binary ($BIN, else target/release/adain, built when missing).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
caller="$PWD"
cd "$root"
py="$root/.venv/bin/python"
export ADAIN_REFERENCE="${ADAIN_REFERENCE:-$root/scripts/reference.py}"
need_bin() {
  bin="${BIN:-target/release/adain}"
  [ -x "$bin" ] || cargo build --release
}
