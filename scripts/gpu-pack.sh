#!/usr/bin/env bash
# Packs what scripts/gpu-check.sh needs on a GPU host without internet into a bundle in one
# git-ignored folder, .gpu-bundle/, copied to the host with the working tree; it refuses when the
# bundle plus the tree's files would pass the size cap for that copy (--max-bytes, 64 MiB).
#
#   scripts/gpu-pack.sh [--parity-type q3_k] [--out DIR] [--max-bytes N]
#
# Needs what `npm test` leaves behind: dist/ (npm run build), node_modules/, deps/whisper.cpp/,
# the CPU addon in build/Release, the converted real base model (npm run models), and xz.
#
# What goes in, and why each part is no bigger:
#   node.xz              this machine's node, stripped of its debug info, xz -9e (Node is absent there)
#   whisper-src.tar.xz   the part of deps/whisper.cpp the addon and whisper-bench compile: whisper's
#                        src/include/cmake, ggml's base, CPU and CUDA backends (no other backends),
#                        miniaudio/stb_vorbis and examples/bench
#   app.tar.xz           dist/ as CommonJS .js only (no maps, types or ESM wrappers) and the four
#                        packages it or the build needs: node-addon-api, node-api-headers, wavefile,
#                        node-gyp-build
#   data.tar.xz          the real base model quantized to --parity-type by whisper.cpp's quantize
#                        (q3_k: base q5_0 is 53 MiB and does not fit beside Node; our own quantizer
#                        stops at q4_0, 44 MiB, which does not fit either), five shared clips, and
#                        expected.json: their transcripts on this machine's CPU with that model
# The large-v3 models are not bundled: gpu-check.sh synthesizes them there.
set -euo pipefail

say() { printf '[gpu-pack] %s\n' "$*" >&2; }
die() { printf '[gpu-pack] error: %s\n' "$*" >&2; exit 1; }

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
BUNDLE_DIR="$ROOT_DIR/.gpu-bundle"
PARITY_TYPE=q3_k
LIMIT_BYTES=$((64 * 1024 * 1024))

while [ $# -gt 0 ]; do
  case "$1" in
    --parity-type) PARITY_TYPE="${2:?--parity-type needs a value}"; shift 2 ;;
    --out) BUNDLE_DIR="${2:?--out needs a folder}"; shift 2 ;;
    --max-bytes) LIMIT_BYTES="${2:?--max-bytes needs a number}"; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
case "$PARITY_TYPE" in q2_k|q3_k|q4_0|q4_k|q5_0) ;; *) die "--parity-type: expected q2_k, q3_k, q4_0, q4_k or q5_0, got $PARITY_TYPE" ;; esac

cd "$ROOT_DIR"
for tool in node xz tar; do command -v "$tool" >/dev/null || die "$tool not found"; done
[ -f dist/index.js ] || die "dist/ is missing: run npm run build"
[ -f deps/whisper.cpp/include/whisper.h ] || die "deps/whisper.cpp is missing: run node scripts/fetch-whisper.mjs"
AUDIO_DIR="$ROOT_DIR/../shared/audio"
[ -f "$AUDIO_DIR/jfk.wav" ] || die "the shared clips are missing ($AUDIO_DIR)"

# The bundle folder must be git-ignored, or the size check counts it twice and git sees it.
exclude_file="$(git rev-parse --git-path info/exclude)"
grep -qx '/.gpu-bundle/' "$exclude_file" 2>/dev/null || { mkdir -p "$(dirname "$exclude_file")"; echo '/.gpu-bundle/' >> "$exclude_file"; }
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/whisper-napi/gpu-pack"
mkdir -p "$BUNDLE_DIR" "$CACHE_DIR"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export XZ_OPT='-9e -T0'

# 1. Node, reused while this machine's node stays the same binary (xz -9e takes a minute or two).
node_bin="$(readlink -f "$(command -v node)")"
node_id="$(node -p 'process.version + " " + process.arch')  $(sha256sum "$node_bin" | cut -c1-16)"
if [ -f "$BUNDLE_DIR/node.xz" ] && [ "$(cat "$CACHE_DIR/node.id" 2>/dev/null)" = "$node_id" ]; then
  say "reusing node.xz ($node_id)"
else
  say "compressing $node_bin ($node_id)"
  if command -v strip >/dev/null; then strip -o "$work/node" "$node_bin"; else cp "$node_bin" "$work/node"; fi
  xz -c "$work/node" > "$BUNDLE_DIR/node.xz.partial"
  mv "$BUNDLE_DIR/node.xz.partial" "$BUNDLE_DIR/node.xz"
  printf '%s\n' "$node_id" > "$CACHE_DIR/node.id"
fi

# 2. whisper.cpp: only the sources the build reads. ggml/src/CMakeLists.txt enters a backend's
# folder only when that backend is on, so the other backends' folders can stay behind.
say "packing the whisper.cpp sources"
(
  cd deps/whisper.cpp
  {
    printf '%s\n' CMakeLists.txt LICENSE cmake include src .whisper-napi-source \
      ggml/CMakeLists.txt ggml/cmake ggml/include ggml/src/ggml-cpu ggml/src/ggml-cuda \
      examples/miniaudio.h examples/stb_vorbis.c examples/bench bindings/javascript/package-tmpl.json
    find ggml/src -maxdepth 1 -type f
  } | while read -r entry; do [ -e "$entry" ] && printf '%s\n' "$entry"; done > "$work/src.list"
  tar -cJf "$BUNDLE_DIR/whisper-src.tar.xz" -T "$work/src.list"
)

# 3. The library and the packages it needs at run time (wavefile, node-gyp-build) or to build
# (node-addon-api's headers, node-api-headers for CMAKE_JS_INC).
say "packing dist/ and node_modules/"
{
  find dist -name '*.js' -not -path 'dist/esm/*'
  for package in node-addon-api node-api-headers wavefile node-gyp-build; do
    [ -d "node_modules/$package" ] || die "node_modules/$package is missing: run npm ci"
    find "node_modules/$package" -type f -not -name '*.md' -not -name '*.map' -not -path '*/test/*'
  done
} > "$work/app.list"
tar -cJf "$BUNDLE_DIR/app.tar.xz" -T "$work/app.list"

# 4. The parity model, clips, and this CPU's transcripts of them.
manifest="$(node scripts/fetch-real-models.mjs --check)"
f16="$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).models.base.files.f16.path)' "$manifest")"
[ -f "$f16" ] || die "the real base f16 model is missing ($f16): run npm run models"
mkdir -p "$work/data/models" "$work/data/audio"
model="$work/data/models/base-$PARITY_TYPE.bin"
cached_model="$CACHE_DIR/base-$PARITY_TYPE-$(basename "$(dirname "$f16")").bin"
if [ ! -f "$cached_model" ]; then
  quantize="$(node scripts/build-whisper-cli.mjs whisper-quantize | tail -n 1)"
  say "quantizing $f16 to $PARITY_TYPE with $quantize"
  "$quantize" "$f16" "$cached_model.partial" "$PARITY_TYPE" > "$work/quantize.log" 2>&1 || { tail -n 20 "$work/quantize.log" >&2; die "whisper-quantize failed"; }
  mv "$cached_model.partial" "$cached_model"
fi
cp "$cached_model" "$model"
cp "$AUDIO_DIR/jfk.wav" "$work/data/audio/jfk.wav"
cp "$(find "$AUDIO_DIR/librivox" -name '*.wav' | sort | head -n 1)" "$work/data/audio/librivox.wav"
for card in 001 002 003; do cp "$AUDIO_DIR/cards/$card.wav" "$work/data/audio/card-$card.wav"; done
say "transcribing the clips on this CPU for expected.json"
node scripts/gpu/checks.mjs expected --model "$model" --audio "$work/data/audio" --out "$work/data/expected.json" >&2
tar -cJf "$BUNDLE_DIR/data.tar.xz" -C "$work/data" models audio expected.json

# 5. The size cap: the bundle plus the working tree that goes to the host with it.
tree_bytes="$(git ls-files -co --exclude-standard -z | xargs -0 stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')"
if [ -d shared ]; then tree_bytes=$((tree_bytes + $(du -sb shared | cut -f1))); fi
mib() { awk -v bytes="$1" 'BEGIN { printf "%.1f", bytes / 1048576 }'; }
total=$tree_bytes
printf '| part | bytes | MiB |\n|---|---:|---:|\n'
for file in node.xz whisper-src.tar.xz app.tar.xz data.tar.xz; do
  bytes="$(stat -c %s "$BUNDLE_DIR/$file")"
  total=$((total + bytes))
  printf '| %s | %d | %s |\n' "$file" "$bytes" "$(mib "$bytes")"
done
printf '| working tree (tracked and untracked files) | %d | %s |\n' "$tree_bytes" "$(mib "$tree_bytes")"
printf '| **total** (limit %d) | **%d** | **%s** |\n' "$LIMIT_BYTES" "$total" "$(mib "$total")"
extra="$(find "$BUNDLE_DIR" -mindepth 1 -not -name node.xz -not -name whisper-src.tar.xz -not -name app.tar.xz -not -name data.tar.xz | head -n 1)"
[ -z "$extra" ] || die "$BUNDLE_DIR holds more than the four packed files ($extra): it would travel too; remove it"
[ "$total" -le "$LIMIT_BYTES" ] || die "$total bytes is over the $LIMIT_BYTES-byte limit: try --parity-type q2_k"
say "ready: copy the working tree with .gpu-bundle/ to the GPU host and run: bash scripts/gpu-check.sh"
