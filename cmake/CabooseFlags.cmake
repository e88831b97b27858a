# Every caboose target links caboose_build_flags PRIVATE: warnings, -Werror in CI, sanitizers.
add_library(caboose_build_flags INTERFACE)
target_compile_options(caboose_build_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
if(CABOOSE_WERROR)
  target_compile_options(caboose_build_flags INTERFACE -Werror)
endif()
if(CABOOSE_SANITIZE)
  # -g1: line tables, what a sanitizer's report needs (file and line of every frame); the full
  # debug information of a Debug build would more than double the build's size on disk.
  target_compile_options(caboose_build_flags INTERFACE
    -fsanitize=${CABOOSE_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all -g1)
  target_link_options(caboose_build_flags INTERFACE -fsanitize=${CABOOSE_SANITIZE})
endif()
if(CABOOSE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "CABOOSE_FUZZ needs clang (CC=clang CXX=clang++), not ${CMAKE_CXX_COMPILER_ID}")
  endif()
  if(CABOOSE_SANITIZE)
    message(FATAL_ERROR "CABOOSE_FUZZ brings its own sanitizers: leave CABOOSE_SANITIZE empty")
  endif()
  # Coverage for libFuzzer in every caboose library; the fuzz targets add -fsanitize=fuzzer.
  target_compile_options(caboose_build_flags INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(caboose_build_flags INTERFACE -fsanitize=address,undefined)
endif()
