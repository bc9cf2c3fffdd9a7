# ggml/whisper.cpp options shared by the addon build and the whisper-cli parity build.
# Used twice: `include()`d by CMakeLists.txt and passed as `cmake -C` by
# scripts/build-whisper-cli.mjs. Both must compile ggml identically, or token-for-token
# parity between the addon and whisper-cli stops being a meaningful oracle.
# Non-FORCE cache entries: a -D on the command line still wins.

set(BUILD_SHARED_LIBS OFF CACHE BOOL "whisper-napi: static whisper and ggml")
set(CMAKE_POSITION_INDEPENDENT_CODE ON CACHE BOOL "whisper-napi: static libraries linked into a shared addon")
set(WHISPER_BUILD_TESTS OFF CACHE BOOL "")
set(WHISPER_BUILD_SERVER OFF CACHE BOOL "")
set(WHISPER_SDL2 OFF CACHE BOOL "")
set(WHISPER_CURL OFF CACHE BOOL "")
set(WHISPER_ALL_WARNINGS OFF CACHE BOOL "")
# Portable by default: no -march=native. ggml then enables its x86-64-v3 set
# (SSE4.2, AVX, AVX2, FMA, F16C, BMI2). WHISPER_NAPI_NATIVE=ON opts into -march=native.
set(GGML_NATIVE OFF CACHE BOOL "")
# ggml's own thread pool instead of OpenMP: no libgomp at run time, and the same
# threading in the addon and in whisper-cli.
set(GGML_OPENMP OFF CACHE BOOL "")
# llamafile's tiled GEMM kernels for f16 (and q8_0/q4_0) matrix products on AVX2 and AVX-512:
# ggml leaves them off unless asked; on the CPU they make the f16 encoder much faster
# (BENCHMARKS.md, "Build levers").
set(GGML_LLAMAFILE ON CACHE BOOL "")
set(GGML_CCACHE OFF CACHE BOOL "")
set(GGML_BLAS OFF CACHE BOOL "")
set(GGML_METAL OFF CACHE BOOL "")
set(GGML_VULKAN OFF CACHE BOOL "")
