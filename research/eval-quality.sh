#!/usr/bin/env bash
# The quality tables of models/README.md: the shipped decoder against its version 1, Magenta's
# arbitrary stylization (research/peer-magenta.sh) and the colour-transfer baseline, on the
# held-out photos and paintings of the training run (models/validation-pairs.tsv; never
# trained on): the 8 validation pairs at 512 px, and all 64 combinations of their photos and
# paintings at 384 px; each once with the decoders' own colours (--match-palette 0) and once
# as `adain stylize` runs by default.
#   research/eval-quality.sh [DECODER]
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
need_bin
decoder="${1:-models/decoder-vgg16.safetensors}"
pairs=models/validation-pairs.tsv
[ -d ../shared/data ] || { echo "needs ../shared/data (the held-out pairs are taken from it)" >&2; exit 1; }
work="${WORK:-$(mktemp -d)}"
v1="$work/decoder-v1.safetensors"
[ -f "$v1" ] || git show 79af532:models/decoder-vgg16.safetensors > "$v1"
# SIZE MODE: 512 pairs (the 8 validation pairs), 384 all (the 64 combinations).
for run in "512 pairs" "384 all"; do
  set -- $run
  size="$1"; all=(); [ "$2" = all ] && all=(--all-combinations)
  peer="$work/magenta-$size-$2"
  [ -d "$peer" ] || research/peer-magenta.sh "$pairs" "$size" "$peer" "${all[@]}"
  for palette in 0 1; do
    echo "== $size px, $2, --match-palette $palette"
    "$bin" eval --pairs "$pairs" "${all[@]}" --size "$size" --precision f32 --match-palette "$palette" \
      --decoder "$v1" --decoder "$decoder" --compare "magenta=$peer"
  done
done
