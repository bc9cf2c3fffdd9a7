#!/usr/bin/env bash
# Builds the addon with the CUDA backend, using a CUDA toolkit assembled from NVIDIA's wheels
# on PyPI (scripts/cuda-toolkit-from-pypi.sh): no system CUDA install and no GPU needed.
#
#   scripts/build-cuda.sh [ARCHITECTURES] [BUILD_DIR]
#
#   ARCHITECTURES  CMake CUDA architectures, ';' or ',' separated (default: 90). e.g. "90",
#                  "86;89;90", or the release set "75-real;80-real;86-real;89-real;90-real;90-virtual".
#                  CUDA 13 supports sm_75 and newer.
#   BUILD_DIR      build tree (default: build-cuda/ in the repository, git-ignored; build/ is
#                  the CPU build).
#
# The result is the CUDA package's binary: packages/<platform>-<arch>-cuda/prebuilds/<platform>-<arch>/
# (whisper-napi.napi.glibc.node, libggml-cuda.so, the CPU variants, build.json), made by
# `node scripts/prebuild.mjs --cuda`. `npm pack packages/linux-x64-cuda` packs it.
#
# Environment: WHISPER_NAPI_BUILD_JOBS (default: CPU count), WHISPER_NAPI_CUDA_TOOLKIT_DIR
# (where the toolkit goes, see cuda-toolkit-from-pypi.sh), WHISPER_NAPI_DEBUG=1.
# Slow: nvcc compiles ~140 ggml-cuda files (sm_90 alone took 76 min on 2 busy cores here).
# Needs what the CPU build needs (cmake >= 3.21, g++, `npm install` done) plus python3 + pip.
set -euo pipefail

say() { printf '[build-cuda] %s\n' "$*" >&2; }
die() { printf '[build-cuda] error: %s\n' "$*" >&2; exit 1; }

case "${1:-}" in -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;; esac
[ $# -le 2 ] || die "usage: $0 [ARCHITECTURES] [BUILD_DIR]"

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
ARCHS="${1:-90}"
ARCHS="${ARCHS//,/;}"
BUILD_DIR="${2:-$ROOT_DIR/build-cuda}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$PWD/$BUILD_DIR" ;; esac
[ "$BUILD_DIR" != "$ROOT_DIR/build" ] || die "$ROOT_DIR/build is the default CPU build tree; pick another BUILD_DIR"

command -v node >/dev/null || die "node not found"
[ -d "$ROOT_DIR/node_modules/cmake-js" ] || die "node_modules/cmake-js is missing: run npm install (or npm ci) first"
command -v cmake >/dev/null || die "cmake not found (>= 3.21 needed)"

# 1. the toolkit (reused when already there); its stdout is the environment to use
env_lines="$("$ROOT_DIR/scripts/cuda-toolkit-from-pypi.sh")" || die "could not set up the CUDA toolkit"
eval "$env_lines"

# 2. the build, into the CUDA package folder
say "building with CUDA for architectures '$ARCHS' into $BUILD_DIR"
start=$(date +%s)
WHISPER_NAPI_CUDA_ARCHITECTURES="$ARCHS" \
WHISPER_NAPI_BUILD_DIR="$BUILD_DIR" \
  node "$ROOT_DIR/scripts/prebuild.mjs" --cuda
elapsed=$(( $(date +%s) - start ))

platform_arch="$(node -p 'process.platform + "-" + process.arch')"
out="$ROOT_DIR/packages/$platform_arch-cuda/prebuilds/$platform_arch"
[ -f "$out/libggml-cuda.so" ] || die "the build finished but $out/libggml-cuda.so is missing"
say "built $out ($(du -sh "$out" | cut -f1)) in $((elapsed / 60)) min $((elapsed % 60)) s"
say "libggml-cuda.so needs: $(readelf -d "$out/libggml-cuda.so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
say "to use it on a machine with an NVIDIA driver >= 580 (libcuda.so.1), put libcudart.so.13 and libcublas*.so.13"
say "on the library path, e.g. export LD_LIBRARY_PATH=\"$CUDAToolkit_ROOT/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}\""
