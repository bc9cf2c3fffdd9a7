#!/usr/bin/env bash
# Assembles a CUDA toolkit that is just enough to compile and link the whisper-napi CUDA
# build, from NVIDIA's wheels on PyPI: no system CUDA install, no root, no GPU needed.
#
#   scripts/cuda-toolkit-from-pypi.sh [DIR]
#   eval "$(scripts/cuda-toolkit-from-pypi.sh)"       # sets CUDACXX, CUDAToolkit_ROOT, PATH
#
# DIR defaults to $WHISPER_NAPI_CUDA_TOOLKIT_DIR, else ~/.cache/whisper-napi/cuda-toolkit/<release>.
# A complete DIR is reused (nothing is downloaded again, ~1 s); the symlinks are redone each
# time, the compile self-test once per install (~30 s). Progress goes to stderr; stdout
# carries only the `export` lines, so the output can be eval'ed. Tested on x86_64 Linux.
#
# Why CUDA 13: the CUDA 12 nvcc wheel (nvidia-cuda-nvcc-cu12) holds only ptxas and libnvvm,
# not the nvcc driver, cudafe++, fatbinary or nvlink. The CUDA 13 wheels hold a full nvcc and
# all install into one prefix, nvidia/cu13/{bin,include,lib,nvvm}, which is already almost
# a toolkit. What this script adds to that prefix:
#   lib64 -> lib                       nvcc.profile passes -L$(TOP)/lib64 to the linker
#   lib/libcudart.so, libcublas.so, ... unversioned names for the linker and FindCUDAToolkit
#   lib/stubs/libcuda.so               a link-only stub of the driver library (SONAME
#                                      libcuda.so.1, generated from cuda.h): ggml-cuda links
#                                      CUDA::cuda_driver for its VMM pool; at run time the
#                                      real libcuda.so.1 of the NVIDIA driver is used
#   nvvm/lib64/libnvvm.so, nvvm/include/nvvm.h   the classic places of libnvvm
# CUDA 13 needs an NVIDIA driver >= 580 at run time and supports sm_75 (Turing) and newer.
set -euo pipefail

# ---- pins: CUDA 13.0 Update 2 (13.0.2); bump them together ------------------------------
CUDA_RELEASE=13.0.2
PINS=(
  nvidia-cuda-nvcc==13.0.88     # nvcc, cudafe++, fatbinary, nvlink, ptxas, nvcc.profile
  nvidia-cuda-crt==13.0.88      # include/crt/*: headers nvcc itself includes
  nvidia-nvvm==13.0.88          # nvvm/bin/cicc, libdevice, libnvvm
  nvidia-cuda-runtime==13.0.96  # cuda_runtime.h, cuda.h, libcudart.so.13, libcudart_static.a
  nvidia-cublas==13.1.0.3       # cublas_v2.h, libcublas.so.13, libcublasLt.so.13
  nvidia-cuda-cccl==13.0.85     # include/cccl/{cub,thrust,cuda}: ggml-cuda includes <cub/cub.cuh>
)
PIP_SUBDIR=nvidia/cu13          # where all the CUDA 13 wheels put their files

say() { printf '[cuda-toolkit] %s\n' "$*" >&2; }
die() { printf '[cuda-toolkit] error: %s\n' "$*" >&2; exit 1; }

case "${1:-}" in
  -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
  -*) die "unknown option $1 (usage: $0 [DIR])" ;;
esac
DIR="${1:-${WHISPER_NAPI_CUDA_TOOLKIT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/whisper-napi/cuda-toolkit/$CUDA_RELEASE}}"

# ---- preconditions ------------------------------------------------------------------------
[ "$(uname -s)" = Linux ] || die "the CUDA wheels on PyPI are for Linux only (this is $(uname -s))"
case "$(uname -m)" in
  x86_64|aarch64) ;;
  *) die "no CUDA wheels for $(uname -m) on PyPI (x86_64 and aarch64 only)" ;;
esac
PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null || die "$PYTHON not found: it is needed to run pip (set PYTHON=...)"
"$PYTHON" -m pip --version >/dev/null 2>&1 || die "'$PYTHON -m pip' does not work: install pip (e.g. apt-get install python3-pip)"
CC_BIN="${CC:-cc}"
command -v "$CC_BIN" >/dev/null || die "no C compiler ($CC_BIN) found: it builds the libcuda link stub, and nvcc needs gcc/g++ anyway"

mkdir -p "$DIR" || die "cannot create $DIR"
DIR="$(cd "$DIR" && pwd -P)"
PIP_DIR="$DIR/pip"
ROOT="$PIP_DIR/$PIP_SUBDIR"
STAMP="$PIP_DIR/.whisper-napi-pins"
WANT="$(printf '%s\n' "${PINS[@]}")"

# ---- 1. the wheels ---------------------------------------------------------------------------
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$ROOT/bin/nvcc" ]; then
  say "reusing the CUDA $CUDA_RELEASE wheels in $PIP_DIR"
else
  say "installing the CUDA $CUDA_RELEASE wheels from PyPI into $PIP_DIR (about 530 MB to download, 850 MB on disk)"
  rm -rf "$PIP_DIR.partial"
  # One pip call: with --target, pip merges all wheels into a temporary tree first, so the
  # shared nvidia/cu13 prefix is assembled whole (separate calls would skip existing dirs).
  # --no-deps: the wheels' own requirements are unpinned; every one we need is pinned above.
  if ! PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --disable-pip-version-check --no-input \
        --no-deps --only-binary=:all: --no-cache-dir --target "$PIP_DIR.partial" \
        "${PINS[@]}" >&2; then
    rm -rf "$PIP_DIR.partial"
    die "pip could not install the CUDA wheels (is PyPI reachable? see pip's message above)"
  fi
  printf '%s\n' "$WANT" > "$PIP_DIR.partial/.whisper-napi-pins"
  rm -rf "$PIP_DIR"
  mv "$PIP_DIR.partial" "$PIP_DIR"
fi

for f in bin/nvcc bin/nvcc.profile bin/cudafe++ bin/fatbinary bin/nvlink bin/ptxas nvvm/bin/cicc \
         nvvm/libdevice/libdevice.10.bc include/cuda_runtime.h include/cuda.h include/crt/host_config.h \
         include/cublas_v2.h include/cccl/cub/cub.cuh lib/libcudart.so.13 lib/libcublas.so.13 \
         lib/libcublasLt.so.13 lib/libnvvm.so.4; do
  [ -e "$ROOT/$f" ] || die "$ROOT/$f is missing: the wheels' layout is not what this script expects (delete $DIR and rerun, or update the pins)"
done

# ---- 2. the toolkit layout (idempotent) ------------------------------------------------------------
ln -sfn lib "$ROOT/lib64"
for so in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libnvblas.so.13 libnvvm.so.4; do
  [ -e "$ROOT/lib/$so" ] && ln -sfn "$so" "$ROOT/lib/${so%.so.*}.so"
done
mkdir -p "$ROOT/nvvm/lib64" "$ROOT/nvvm/include"
ln -sfn ../../lib/libnvvm.so.4 "$ROOT/nvvm/lib64/libnvvm.so"
ln -sfn ../../include/nvvm.h "$ROOT/nvvm/include/nvvm.h"

# Link-only libcuda stub, like the toolkit's lib64/stubs/libcuda.so: every cu* function that
# cuda.h declares (after its macros, so e.g. cuMemAlloc_v2), with empty bodies, SONAME
# libcuda.so.1. The stubs/ directory holds no libcuda.so.1, so it can never be loaded at run time.
if [ ! -f "$ROOT/lib/stubs/libcuda.so" ] || [ "$ROOT/include/cuda.h" -nt "$ROOT/lib/stubs/libcuda.so" ]; then
  say "generating the link-only libcuda stub from cuda.h"
  mkdir -p "$ROOT/lib/stubs"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  "$CC_BIN" -E -P -I"$ROOT/include" "$ROOT/include/cuda.h" > "$tmp/cuda.i" \
    || die "could not preprocess $ROOT/include/cuda.h"
  "$PYTHON" - "$tmp/cuda.i" "$tmp/stub.c" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
names = sorted(set(re.findall(r'\b(cu[A-Z][A-Za-z0-9_]*)\s*\(', text)))
if len(names) < 100:
    sys.exit(f"only {len(names)} driver API functions found in cuda.h")
with open(sys.argv[2], "w") as out:
    out.write("/* link-only stub of libcuda.so.1, generated from cuda.h by cuda-toolkit-from-pypi.sh */\n")
    for n in names:
        out.write(f"int {n}(void) {{ return 999; /* CUDA_ERROR_UNKNOWN */ }}\n")
EOF
  "$CC_BIN" -shared -fPIC -nostdlib -Wl,-soname,libcuda.so.1 -o "$ROOT/lib/stubs/libcuda.so.tmp" "$tmp/stub.c" \
    || die "could not build the libcuda stub"
  mv "$ROOT/lib/stubs/libcuda.so.tmp" "$ROOT/lib/stubs/libcuda.so"
  rm -rf "$tmp"; trap - EXIT
fi
printf 'CUDA Version %s (NVIDIA wheels from PyPI, assembled by whisper-napi)\n' "$CUDA_RELEASE" > "$ROOT/version.txt"

# ---- 3. self-test: nvcc compiles device code with cub for sm_90, links cudart/cublas/cuda -------
# Once per install (about 30 s); delete $ROOT/.whisper-napi-selftest-ok to redo it.
NVCC="$ROOT/bin/nvcc"
"$NVCC" --version >/dev/null 2>&1 || die "$NVCC does not run"
if [ ! -f "$ROOT/.whisper-napi-selftest-ok" ]; then
  say "self-test: compiling a cub + cuBLAS + driver API program for sm_90"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  cat > "$tmp/t.cu" <<'EOF'
#include <cub/cub.cuh>
#include <cublas_v2.h>
#include <cuda.h>
__global__ void k(float *x) { typedef cub::WarpReduce<float> R; __shared__ typename R::TempStorage t; x[0] = R(t).Sum(x[threadIdx.x]); }
int main() { cublasHandle_t h; CUdevice d; k<<<1, 32>>>(nullptr); return (int) cublasCreate(&h) + (int) cuDeviceGet(&d, 0); }
EOF
  if ! (cd "$tmp" && "$NVCC" -arch=sm_90 -cudart shared -o t t.cu -lcublas -lcuda > log 2>&1); then
    cat "$tmp/log" >&2
    die "the self-test compile failed (see above); the toolkit in $ROOT is not usable"
  fi
  needed="$(readelf -d "$tmp/t" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
  for lib in libcudart.so.13 libcublas.so.13 libcuda.so.1; do
    case " $needed" in *" $lib "*) ;; *) die "self-test binary does not NEED $lib (NEEDED: $needed)" ;; esac
  done
  rm -rf "$tmp"; trap - EXIT
  touch "$ROOT/.whisper-napi-selftest-ok"
fi
say "CUDA $("$NVCC" --version | sed -n 's/.*release \([0-9.]*\), V\([0-9.]*\).*/\1 (nvcc \2)/p') ready in $ROOT"

# ---- 4. the environment -----------------------------------------------------------------------------------------
cat <<EOF
export CUDAToolkit_ROOT='$ROOT'
export CUDA_PATH='$ROOT'
export CUDACXX='$ROOT/bin/nvcc'
export PATH='$ROOT/bin':"\$PATH"
# To load a CUDA build of the addon (it NEEDs libcudart.so.13 and libcublas.so.13; libcuda.so.1 comes from the driver):
#   export LD_LIBRARY_PATH='$ROOT/lib'\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
EOF
