# Sourced by the scripts that run adain: strict mode, the repository root as the working
# directory ($root), and the adain binary ($bin: $BIN, else target/release/adain, built when
# missing).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="${BIN:-target/release/adain}"
[ -x "$bin" ] || cargo build --release
