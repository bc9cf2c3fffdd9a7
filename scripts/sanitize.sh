#!/usr/bin/env bash
# Builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/ and runs
# the native error-path, lifecycle and pool tests on it.
#
#   scripts/sanitize.sh                 build (incrementally) and run the default test files
#   scripts/sanitize.sh test/native/x.test.ts ...   run these instead
#
# The build is static (WHISPER_NAPI_CPU_VARIANTS=off: one instrumented binary, no run-time
# modules), CPU only, and never stored in or taken from the build cache. node itself is not
# instrumented, so libasan is preloaded into it (the ASan runtime must come first). Leak
# detection is off: node and V8 keep allocations alive until exit on purpose, and the report
# would be theirs, not ours. Every sanitizer report goes to build-asan/reports/, and the script
# fails when there is one, even if the tests passed (UBSan reports and continues).
#
# Environment: WHISPER_NAPI_BUILD_JOBS (default 2), SANITIZE_SKIP_BUILD=1 to reuse the build.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build_dir="$root/build-asan"
reports="$build_dir/reports"

if [ "$#" -gt 0 ]; then
  tests=("$@")
else
  tests=(
    test/native/native-hardening.test.ts
    test/native/model-errors.test.ts
    test/native/audio-errors.test.ts
    test/native/lifecycle.test.ts
    test/native/pool.test.ts
  )
fi

libasan="$(${CC:-gcc} -print-file-name=libasan.so)"
if [ ! -e "$libasan" ]; then
  echo "sanitize: libasan.so not found (${CC:-gcc} -print-file-name=libasan.so gave '$libasan')" >&2
  exit 1
fi

mkdir -p "$build_dir"
# Build output, like build/: never to be committed.
[ -e "$build_dir/.gitignore" ] || echo '*' > "$build_dir/.gitignore"

started=$(date +%s)
if [ "${SANITIZE_SKIP_BUILD:-0}" != 1 ]; then
  WHISPER_NAPI_SANITIZE=ON \
  WHISPER_NAPI_CPU_VARIANTS=off \
  WHISPER_NAPI_CUDA=off \
  WHISPER_NAPI_BUILD_DIR="$build_dir" \
  WHISPER_NAPI_BUILD_CACHE=0 \
  WHISPER_NAPI_BUILD_JOBS="${WHISPER_NAPI_BUILD_JOBS:-2}" \
    node scripts/build-native.mjs
fi
built=$(date +%s)
binary="$build_dir/Release/whisper_napi.node"
# (Counted, not grep -q: an early exit of grep would fail nm with SIGPIPE under pipefail.)
if [ "$(nm -D "$binary" | grep -c __asan_init)" = 0 ]; then
  echo "sanitize: $binary is not instrumented (was build-asan/ configured without WHISPER_NAPI_SANITIZE? remove it and rerun)" >&2
  exit 1
fi

rm -rf "$reports"
mkdir -p "$reports"
status=0
LD_PRELOAD="$libasan" \
ASAN_OPTIONS="detect_leaks=0:log_path=$reports/asan:print_full_thread_history=1" \
UBSAN_OPTIONS="print_stacktrace=1:log_path=$reports/ubsan" \
WHISPER_NAPI_BINARY="$binary" \
  npx vitest run "${tests[@]}" || status=$?
finished=$(date +%s)

echo "sanitize: build $((built - started)) s, tests $((finished - built)) s"
shopt -s nullglob
found=("$reports"/*)
if [ "${#found[@]}" -gt 0 ]; then
  echo "sanitize: ${#found[@]} sanitizer report(s) in $reports:" >&2
  for report in "${found[@]}"; do
    echo "---- $report" >&2
    head -n 60 "$report" >&2
  done
  exit 1
fi
echo "sanitize: no sanitizer reports"
exit "$status"
