#!/usr/bin/env bash
# Behaviour check for refactors: builds the adain binary of revision OLD (a git worktree under
# target/same-outputs/, its own target folder) and runs the same commands with it and with the
# working tree's release binary (rebuilt; or NEW): VGG and lite stylizations with
# settings, a tiled one, a style mix, a folder of JPEGs, the arbitrary-style lite ONNX, the
# fixed-style VGG ONNX, a video (its decoded frames' md5) and eval's scores. Prints each
# output's md5 for both and exits 1 when any differs or a command fails.
#   research/same-outputs.sh 71761c2            # that revision against the working tree
#   NEW=path/to/adain research/same-outputs.sh 8ae5a72
# The worktrees stay registered with git: `rm -rf target/same-outputs && git worktree prune`.
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
old_rev="${1:?usage: research/same-outputs.sh OLD_REVISION}"
base="$root/target/same-outputs"
tree="$base/tree-$old_rev"
mkdir -p "$base"
if [ ! -x "$base/adain-$old_rev" ]; then
  [ -d "$tree" ] || git worktree add --detach "$tree" "$old_rev"
  # The same libtorch and the same absolute path for it, so that only adain itself is rebuilt.
  ln -sfn "$root/.venv" "$tree/.venv"
  (cd "$tree" && LIBTORCH="$root/.venv/libtorch" CARGO_TARGET_DIR="$base/target" cargo build --release --quiet)
  cp "$base/target/release/adain" "$base/adain-$old_rev"
fi
# The working tree's binary, rebuilt so that it is the tree's (need_bin would take a stale one).
[ -n "${NEW:-}" ] || cargo build --release --quiet
new_bin="${NEW:-$root/target/release/adain}"
old_bin="$base/adain-$old_rev"

a=assets
video_in="$base/input.mp4"
[ -f "$video_in" ] || ffmpeg -loglevel error -y -loop 1 -i $a/chelsea.jpg -vf "scale=192:128,zoompan=z='1+0.01*on':d=6:s=192x128" \
  -frames:v 6 -pix_fmt yuv420p "$video_in"

# One case per line: a name, then the arguments after the binary ($out is the output folder).
cases() {
  cat <<EOF
vgg-settings.png stylize -c $a/chelsea.jpg -s $a/starry_night.jpg -o \$out/vgg-settings.png --content-size 192 --style-size 192 --alpha 0.6 --match-palette 0.5
vgg-preserve.png stylize -c $a/coffee.jpg -s $a/starry_night.jpg -o \$out/vgg-preserve.png --content-size 160 --style-size 160 --preserve-color
vgg-tiled.png stylize -c $a/astronaut.jpg -s $a/starry_night.jpg -o \$out/vgg-tiled.png --content-size 320 --style-size 192 --tile 160
vgg-mix.png stylize -c $a/chelsea.jpg -s $a/starry_night.jpg $a/coffee.jpg --style-weights 0.7,0.3 -o \$out/vgg-mix.png --content-size 160 --style-size 160
vgg-f32.png stylize -c $a/chelsea.jpg -s $a/starry_night.jpg -o \$out/vgg-f32.png --content-size 160 --style-size 160 --precision f32
lite.png stylize --model lite -c $a/chelsea.jpg -s $a/starry_night.jpg -o \$out/lite.png --content-size 256 --style-size 256
lite-alpha.png stylize --model lite -c $a/astronaut.jpg -s $a/starry_night.jpg -o \$out/lite-alpha.png --content-size 200 --style-size 200 --alpha 0.5
lite-tiled.png stylize --model lite -c $a/coffee.jpg -s $a/starry_night.jpg -o \$out/lite-tiled.png --content-size 384 --style-size 192 --tile 192
folder stylize -c $a -s $a/starry_night.jpg -o \$out/folder --ext jpg --content-size 128 --style-size 128
lite.onnx export --model lite -o \$out/lite.onnx
vgg-fixed.onnx export -s $a/starry_night.jpg -o \$out/vgg-fixed.onnx --style-size 128
video.framemd5 video -i $video_in -s $a/starry_night.jpg -o \$out/video.mp4 --size 128 --style-size 128
eval.txt eval -c $a -s $a/starry_night.jpg --size 96
EOF
}

run_all() { # binary, output folder
  local b="$1" out="$2" name args
  rm -rf "$out"; mkdir -p "$out"
  while read -r name args; do
    args="${args//\$out/$out}"
    # shellcheck disable=SC2086
    if ! "$b" $args > "$out/$name.stdout" 2> "$out/$name.stderr"; then echo "FAILED" > "$out/$name.stdout"; fi
  done < <(cases)
  ffmpeg -loglevel error -i "$out/video.mp4" -f framemd5 "$out/video.framemd5" 2>/dev/null || true
  mv "$out/eval.txt.stdout" "$out/eval.txt"
}

digest() { # output folder, case name
  local p="$1/$2"
  if grep -qx FAILED "$p.stdout" 2>/dev/null; then echo "failed: $(head -c 200 "$p.stderr")"
  elif [ -d "$p" ]; then (cd "$p" && md5sum ./* | md5sum | cut -c1-32)
  elif [ "$2" = video.framemd5 ]; then grep -v '^#' "$p" | md5sum | cut -c1-32
  elif [ -f "$p" ]; then md5sum < "$p" | cut -c1-32
  else echo missing; fi
}

run_all "$old_bin" "$base/out-old"
run_all "$new_bin" "$base/out-new"
differ=0
printf '%-16s %-34s %-34s\n' output "old ($old_rev)" new
while read -r name _; do
  o="$(digest "$base/out-old" "$name")"; n="$(digest "$base/out-new" "$name")"
  mark=same
  [ "$o" = "$n" ] || { mark=DIFFERENT; differ=1; }
  case "$o$n" in *failed*|*missing*) mark="NOT RUN"; differ=1 ;; esac
  printf '%-16s %-34s %-34s %s\n' "$name" "${o:0:32}" "${n:0:32}" "$mark"
done < <(cases)
exit $differ
