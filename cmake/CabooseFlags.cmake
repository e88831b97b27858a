# Every caboose target links caboose_build_flags PRIVATE: warnings, -Werror in CI, sanitizers.
add_library(caboose_build_flags INTERFACE)
target_compile_options(caboose_build_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
if(CABOOSE_WERROR)
  target_compile_options(caboose_build_flags INTERFACE -Werror)
endif()
if(CABOOSE_SANITIZE)
  target_compile_options(caboose_build_flags INTERFACE
    -fsanitize=${CABOOSE_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(caboose_build_flags INTERFACE -fsanitize=${CABOOSE_SANITIZE})
endif()
