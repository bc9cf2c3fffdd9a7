#!/usr/bin/env bash
# The prepared GPU check (issue 15): on a CUDA host without internet or Node, in one run of at
# most 10 minutes, it builds the CUDA addon for sm_90 from the bundled sources, checks GPU against
# CPU text on the real base model and a pool of GPU states, and measures synthetic large-v3
# q5_0 and q8_0 with flash attention (nvidia-smi's whole-process VRAM against the planner,
# encoder ms and decode ms per token against whisper-bench, throughput at 1, 2 and 4 states).
# Everything goes into one Markdown report, gpu-check-report.md in the --out folder.
#
#   scripts/gpu-pack.sh              # here, first: fills the bundle .gpu-bundle/ within its size cap
#   bash scripts/gpu-check.sh        # there
#   bash scripts/gpu-check.sh --dry-run   # here: the same flow on this CPU, in about 3 minutes
#
# On the GPU host: copy the working tree there with the bundle .gpu-bundle/ in it, then run
#   bash scripts/gpu-check.sh        # under a 10-minute limit
# and bring back the report, the one file the check writes.
#
# Options: --bundle DIR (the bundle, default .gpu-bundle), --out DIR (default
# /tmp/gpu-check-out), --budget SECONDS (default 570: every step is cut to
# what is left of it, so the report is written within a 10-minute run), --jobs N (default nproc).
#
# The host needs bash, xz, tar, cmake >= 3.24, a C++ compiler, CUDA 13 nvcc and cuBLAS (a
# toolkit's, or the nvidia-* wheels of its python3), and an NVIDIA driver. The build is the
# static layout (WHISPER_NAPI_CPU_VARIANTS=OFF: one CPU backend, CUDA linked into the addon),
# with whisper-bench added to the same build (scripts/gpu/whisper-bench.cmake), so ggml-cuda is
# compiled once. --dry-run replaces the build by this machine's build/Release addon and cached
# whisper-bench (it still configures, to check the build's CMake step), large-v3 by tiny, and
# skips nvidia-smi; it unpacks .gpu-bundle into a copy of the working tree, so the bundled
# dist/ and node_modules/ subset is what runs.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DRY_RUN=0
BUNDLE_DIR="$ROOT_DIR/.gpu-bundle"
OUT_DIR="${TMPDIR:-/tmp}/gpu-check-out"
BUDGET_S=570
JOBS="$(nproc)"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1; shift ;;
    --bundle) BUNDLE_DIR="$(cd "${2:?--bundle needs a folder}" && pwd -P)"; shift 2 ;;
    --out) OUT_DIR="${2:?--out needs a folder}"; shift 2 ;;
    --budget) BUDGET_S="${2:?--budget needs seconds}"; shift 2 ;;
    --jobs) JOBS="${2:?--jobs needs a number}"; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) printf 'gpu-check: unknown argument %s (see --help)\n' "$1" >&2; exit 2 ;;
  esac
done

mkdir -p "$OUT_DIR"
REPORT="$OUT_DIR/gpu-check-report.md"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")"
LOG="$WORK/log"
STEPS="$WORK/steps.md"
: > "$LOG"
printf '| step | result | seconds |\n|---|---|---:|\n' > "$STEPS"
: > "$WORK/body.md"

say() { printf '[gpu-check %4ds] %s\n' "$SECONDS" "$*" | tee -a "$LOG" >&2; }
section() { printf '\n## %s\n\n' "$1" >> "$WORK/body.md"; }
note() { printf '%s\n' "$*" >> "$WORK/body.md"; }
left() { echo $((BUDGET_S - SECONDS)); }

# The report is written however the run ends, with the tail of the log when something failed.
finish() {
  local status=$?
  {
    printf '# GPU check, %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf -- '- mode: %s; %d s of a %d s budget; exit status %d\n' "$([ "$DRY_RUN" = 1 ] && echo 'dry run on the CPU' || echo 'GPU host')" "$SECONDS" "$BUDGET_S" "$status"
    printf -- '- host: %s, %s cores, %s\n\n' "$(uname -srm)" "$(nproc)" "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
    cat "$STEPS"
    cat "$WORK/body.md"
    printf '\n## Log (last 60 lines)\n\n```\n'
    tail -n 60 "$LOG"
    printf '```\n'
  } > "$REPORT"
  printf 'gpu-check: report written to %s\n' "$REPORT" >&2
  [ "$DRY_RUN" = 1 ] && rm -rf "$WORK"
  exit "$status"
}
trap finish EXIT

# step NAME SECONDS COMMAND...: runs the command under a deadline (never past the budget), logs
# its output and adds a row to the steps table; returns the command's status.
step() {
  local name="$1" limit="$2" rc=0 started=$SECONDS
  shift 2
  local remaining
  remaining="$(left)"
  if [ "$remaining" -lt 10 ]; then
    printf '| %s | skipped: budget spent | 0 |\n' "$name" >> "$STEPS"
    say "$name: skipped, the budget is spent"
    return 1
  fi
  [ "$limit" -le "$remaining" ] || limit=$remaining
  [ "$limit" -ge 10 ] || limit=10
  say "$name (at most $limit s)"
  # timeout signals its whole process group, so a build's compilers go too; shell functions run
  # in a bash of their own (they are exported below).
  if declare -F "$1" >/dev/null; then set -- bash -c '"$@"' _ "$@"; fi
  timeout --kill-after=5 "$limit" "$@" > "$WORK/step.out" 2>&1 || rc=$?
  cat "$WORK/step.out" >> "$LOG"
  local result=ok
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then result="timed out after $limit s"; elif [ "$rc" != 0 ]; then result="failed ($rc)"; fi
  printf '| %s | %s | %d |\n' "$name" "$result" $((SECONDS - started)) >> "$STEPS"
  return "$rc"
}

# ---- the tree to run in, with the bundled files unpacked into it ----------------------------------
for file in node.xz whisper-src.tar.xz app.tar.xz data.tar.xz; do
  [ -f "$BUNDLE_DIR/$file" ] || { say "$BUNDLE_DIR/$file is missing: run scripts/gpu-pack.sh first and copy .gpu-bundle/ with the working tree"; exit 1; }
done
if [ "$DRY_RUN" = 1 ]; then
  # A copy of what goes to the host (tracked and untracked-not-ignored files), so nothing here is read from this checkout's ignored folders.
  TREE="$WORK/tree"
  mkdir -p "$TREE"
  (cd "$ROOT_DIR" && git ls-files -co --exclude-standard -z | tar -cf - --null -T -) | tar -xf - -C "$TREE"
else
  TREE="$ROOT_DIR"
fi
DATA="$WORK/data"
mkdir -p "$WORK/bin" "$DATA" "$TREE/deps/whisper.cpp"
unpack() {
  xz -dc "$BUNDLE_DIR/node.xz" > "$WORK/bin/node" && chmod +x "$WORK/bin/node"
  tar -xJf "$BUNDLE_DIR/whisper-src.tar.xz" -C "$TREE/deps/whisper.cpp"
  tar -xJf "$BUNDLE_DIR/app.tar.xz" -C "$TREE"
  tar -xJf "$BUNDLE_DIR/data.tar.xz" -C "$DATA"
  "$WORK/bin/node" --version
}
export BUNDLE_DIR WORK TREE DATA DRY_RUN
export -f unpack
step unpack 60 unpack || exit 1
export PATH="$WORK/bin:$PATH"
CHECKS=(node "$TREE/scripts/gpu/checks.mjs")
PARITY_MODEL="$(find "$DATA/models" -name 'base-*.bin' | head -n 1)"

section Machine
{
  printf -- '- node %s (bundled), cmake %s, %s\n' "$(node --version)" "$(cmake --version | head -n 1 | awk '{ print $3 }')" "$(c++ --version | head -n 1)"
  if [ "$DRY_RUN" = 0 ]; then
    printf -- '- GPU: %s\n' "$(nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv,noheader 2>&1 | head -n 1)"
  fi
} >> "$WORK/body.md"

# ---- CUDA: nvcc, and cuBLAS wherever it is (a toolkit, or python's nvidia wheels) ------------------
CMAKE_CUDA_ARGS=()
if [ "$DRY_RUN" = 0 ]; then
  NVCC="$(command -v nvcc || true)"
  for candidate in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda; do
    [ -n "$NVCC" ] || { [ -n "$candidate" ] && [ -x "$candidate/bin/nvcc" ] && NVCC="$candidate/bin/nvcc"; } || true
  done
  [ -n "$NVCC" ] || { say "no nvcc on PATH, in CUDA_HOME or /usr/local/cuda"; exit 1; }
  CUDA_ROOT="$(cd "$(dirname "$NVCC")/.." && pwd -P)"
  note "- nvcc: $NVCC ($("$NVCC" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'))"
  CMAKE_CUDA_ARGS+=("-DCMAKE_CUDA_COMPILER=$NVCC" "-DCUDAToolkit_ROOT=$CUDA_ROOT")
  lib_dirs=("$CUDA_ROOT/lib64" "$CUDA_ROOT/lib")
  if [ ! -f "$CUDA_ROOT/include/cublas_v2.h" ]; then
    # cuBLAS only in python's wheels: name its header and libraries to FindCUDAToolkit directly.
    site="$(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null || true)"
    # shellcheck disable=SC2086 # the site folders are separate words
    header="$(find $site /usr/local /opt -maxdepth 7 -name cublas_v2.h -path '*nvidia*' 2>/dev/null | head -n 1 || true)"
    [ -n "$header" ] || { say "cublas_v2.h is neither in $CUDA_ROOT/include nor in python's nvidia wheels"; exit 1; }
    include_dir="$(dirname "$header")"
    lib_dir="$(cd "$include_dir/../lib" && pwd -P)"
    note "- cuBLAS from $include_dir and $lib_dir"
    CMAKE_CUDA_ARGS+=("-DCUDA_cublas_LIBRARY=$(ls "$lib_dir"/libcublas.so* | head -n 1)" "-DCUDA_cublasLt_LIBRARY=$(ls "$lib_dir"/libcublasLt.so* | head -n 1)"
      "-DCMAKE_CUDA_FLAGS=-I$include_dir" "-DCMAKE_CXX_FLAGS=-I$include_dir")
    lib_dirs+=("$lib_dir")
  fi
  LD_LIBRARY_PATH="$(IFS=:; echo "${lib_dirs[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export LD_LIBRARY_PATH
fi

# ---- the build ------------------------------------------------------------------------------------------
BUILD="$WORK/build"
configure() {
  local generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S "$TREE" -B "$BUILD" "${generator[@]}" --no-warn-unused-cli -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_JS_INC="$TREE/node_modules/node-api-headers/include" -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$BUILD/Release" \
    -DCMAKE_PROJECT_TOP_LEVEL_INCLUDES="$TREE/scripts/gpu/whisper-bench.cmake" \
    -DWHISPER_NAPI_CPU_VARIANTS=OFF "$@"
}
export BUILD
export -f configure
if [ "$DRY_RUN" = 0 ]; then
  # NCCL off: the host's python wheels may hold one that the addon would then need at load time.
  step configure 90 configure -DWHISPER_NAPI_CUDA=on -DWHISPER_NAPI_CUDA_ARCHITECTURES=90-real -DGGML_CUDA_NCCL=OFF "${CMAKE_CUDA_ARGS[@]}" || exit 1
  # What is left after the build must cover the checks: about 170 s (see the steps table).
  build_status=0
  step "build (sm_90, $JOBS jobs)" $(($(left) - 170)) cmake --build "$BUILD" --target whisper_napi whisper-bench -j "$JOBS" || build_status=$?
  section 'The CUDA binary'
  # ninja's last "[done/total]" says how far a build that ran out of time got.
  note "- build: $(grep -o '^\[[0-9]*/[0-9]*\]' "$WORK/step.out" | tail -n 1 || true) compile steps done, status $build_status"
  [ "$build_status" = 0 ] || exit 1
  export WHISPER_NAPI_BINARY="$BUILD/Release/whisper_napi.node"
  BENCH="$BUILD/bin/whisper-bench"
  note "- $(stat -c %s "$WHISPER_NAPI_BINARY") bytes; links: $(ldd "$WHISPER_NAPI_BINARY" | awk '/cuda|cublas/ { printf "%s => %s; ", $1, $3 }')"
else
  step 'configure (CPU, checks the build step)' 90 configure -DWHISPER_NAPI_CUDA=off || exit 1
  step 'whisper-bench is a target' 20 bash -c "cmake --build '$BUILD' --target help | grep -q whisper-bench" || exit 1
  export WHISPER_NAPI_BINARY="$ROOT_DIR/build/Release/whisper_napi.node"
  BENCH="$(cd "$ROOT_DIR" && node scripts/build-whisper-cli.mjs whisper-bench | tail -n 1)"
fi

# ---- synthetic large-v3, made in the background while the parity and pool checks run -------------------
# The dry run keeps to about 3 minutes on 2 cores: tiny, fewer clips, one job per state.
if [ "$DRY_RUN" = 1 ]; then ARCH=tiny SMALL=(--clips 4) PER_STATE=1; else ARCH=large-v3 SMALL=() PER_STATE=2; fi
QUANTS=(q5_0 q8_0)
synth_pids=()
for quant in "${QUANTS[@]}"; do
  timeout 150 "${CHECKS[@]}" synth --arch "$ARCH" --type "$quant" --out "$DATA/models/$ARCH-$quant.bin" > "$WORK/synth-$quant.log" 2>&1 &
  synth_pids+=($!)
done

# ---- GPU against CPU, and the pool ---------------------------------------------------------------
section 'GPU against CPU text (real base)'
note "Model: $(basename "$PARITY_MODEL") (made by gpu-pack.sh); the CPU column runs in the same process on the same binary; 'packing CPU' is expected.json, made where the pack was made."
note ""
step 'parity: GPU vs CPU text' 90 "${CHECKS[@]}" parity --model "$PARITY_MODEL" --audio "$DATA/audio" --expected "$DATA/expected.json" "${SMALL[@]}" || true
cat "$WORK/step.out" >> "$WORK/body.md"

section 'Pool of GPU states'
if [ "$DRY_RUN" = 1 ]; then pool_args=(--concurrency 2 --jobs 4 --clips 4); else pool_args=(--concurrency 4 --jobs 16); fi
step 'pool: mixed jobs vs alone' 90 "${CHECKS[@]}" pool --model "$PARITY_MODEL" --audio "$DATA/audio" "${pool_args[@]}" || true
cat "$WORK/step.out" >> "$WORK/body.md"

synth_status=0
for pid in "${synth_pids[@]}"; do wait "$pid" || synth_status=$?; done
cat "$WORK"/synth-*.log >> "$LOG"
printf '| synthesize %s %s | %s | - |\n' "$ARCH" "${QUANTS[*]}" "$([ "$synth_status" = 0 ] && echo ok || echo "failed ($synth_status)")" >> "$STEPS"

# ---- large-v3: memory, speed and throughput ------------------------------------------------------
# nvidia-smi samples the whole device every 100 ms while one measuring process runs; the process's
# figure is the peak less the reading just before it started.
peak_vram() {
  local samples="$WORK/vram.csv" baseline sampler rc=0
  if [ "$DRY_RUN" = 1 ] || ! command -v nvidia-smi >/dev/null; then
    "$@" || rc=$?
    echo "vramMiB=n/a"
    return "$rc"
  fi
  baseline="$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -n 1)"
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$samples" &
  sampler=$!
  "$@" || rc=$?
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  awk -v base="$baseline" '$1 + 0 > peak { peak = $1 + 0 } END { printf "vramMiB=%d\n", peak - base }' "$samples"
  return "$rc"
}
export -f peak_vram

section "Synthetic $ARCH, flash attention on"
note 'Memory: nvidia-smi is the whole process (weights, states, CUDA context, cuBLAS workspace, pools); native is whisper.cpp'"'"'s own allocation report (`model.memory()`); planner is `estimateMemory` for the same concurrency, greedy decoding. Encoder ms is language detection alone (mel + encoder + one decoder step, median of 3); decode ms/token is (one 30 s job − encoder) / its tokens. '
note "Throughput: $PER_STATE jobs per state of the same 30 s window, all at once."
note ''
note '| model | states | nvidia-smi MiB | native MiB | planner MiB | planner vs native | encoder ms | decode ms/token | tokens | windows/s | × real time | tokens/s |'
note '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
bench_lines=()
# Four threads as the addon's default, but never more than the cores: ggml's threads spin.
BENCH_THREADS=$(($(nproc) < 4 ? $(nproc) : 4))
for quant in "${QUANTS[@]}"; do
  model="$DATA/models/$ARCH-$quant.bin"
  [ -f "$model" ] || { note "| $ARCH-$quant | – | not synthesized | | | | | | | | | |"; continue; }
  for states in 1 2 4; do
    if step "measure $ARCH-$quant at $states states" 90 peak_vram "${CHECKS[@]}" measure --model "$model" --audio "$DATA/audio" --concurrency "$states" --jobs-per-state "$PER_STATE"; then
      awk -F'\t' '/^measure\t/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
        /^vramMiB=/ { split($0, kv, "="); f["vram"] = kv[2] }
        END { printf "| %s | %s | %s | %s | %s | %s %% | %s | %s | %s | %s | %s | %s |\n", f["model"], f["concurrency"], f["vram"], f["nativeMiB"], f["plannerMiB"],
              f["plannerVsNativePct"], f["encoderMs"], f["decodeMsPerToken"], f["tokens"], f["windowsPerS"], f["audioXRealtime"], f["tokensPerS"] }' "$WORK/step.out" >> "$WORK/body.md"
    else
      note "| $ARCH-$quant | $states | failed: see the log | | | | | | | | | |"
    fi
  done
  bench_args=(-m "$model" -t "$BENCH_THREADS" -fa)
  if step "whisper-bench $ARCH-$quant" 60 "$BENCH" "${bench_args[@]}"; then
    bench_lines+=("$ARCH-$quant: $(grep -E 'encode time|decode time|batchd time|prompt time' "$WORK/step.out" | sed 's/^whisper_print_timings: *//; s/  */ /g' | paste -sd ';' -)")
  fi
done
section "whisper-bench (same build, -t $BENCH_THREADS -fa)"
for line in "${bench_lines[@]}"; do note "- $line"; done
say done
