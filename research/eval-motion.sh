#!/usr/bin/env bash
# Steadiness on video (issue 36): `adain eval --motion` on the held-out validation pairs, for
# the lite network and the VGG model, without and with temporal smoothing. Each content becomes
# two synthetic camera clips (24 frames panning 3 px a frame, and a still one, sensor noise
# σ 2/255); the table is models/README.md's. SIZE (default 256), PAIRS (default the
# validation pairs).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
need_bin
pairs="${PAIRS:-models/validation-pairs.tsv}"
for temporal in 0 0.5; do
  "$bin" eval --pairs "$pairs" --size "${SIZE:-256}" --model lite vgg --motion --temporal "$temporal" \
    | sed -n '/^steadiness/,$p'
done
