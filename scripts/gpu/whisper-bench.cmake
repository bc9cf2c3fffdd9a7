# Adds whisper.cpp's whisper-bench to the addon's own build, linked to the same whisper and ggml
# targets, so a CUDA build compiles ggml-cuda once for both (it is most of the build's time).
# scripts/gpu-check.sh passes this file as CMAKE_PROJECT_TOP_LEVEL_INCLUDES (CMake >= 3.24): it is
# read at the top-level project() call, before whisper.cpp's targets exist, so the target is added
# by a call deferred to the end of the top-level CMakeLists.txt.
function(whisper_napi_add_whisper_bench)
    if (NOT TARGET whisper)
        message(FATAL_ERROR "whisper-bench.cmake: the whisper target does not exist at the end of ${CMAKE_SOURCE_DIR}/CMakeLists.txt")
    endif()
    find_package(Threads REQUIRED)
    add_executable(whisper-bench ${CMAKE_SOURCE_DIR}/deps/whisper.cpp/examples/bench/bench.cpp)
    target_link_libraries(whisper-bench PRIVATE whisper Threads::Threads)
    set_target_properties(whisper-bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
endfunction()
cmake_language(DEFER CALL whisper_napi_add_whisper_bench)
