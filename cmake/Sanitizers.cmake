# COSCHED_SANITIZER=address turns on ASan and UBSan; =thread turns on TSan; =fuzzer (clang)
# is ASan and UBSan plus libFuzzer's coverage instrumentation, for fuzz/.
# Flags go on every target (including third-party code compiled here) so runtimes match.
if(COSCHED_SANITIZER STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(COSCHED_SANITIZER STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(COSCHED_SANITIZER STREQUAL "fuzzer")
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "COSCHED_SANITIZER=fuzzer needs clang++ (use the 'fuzz' preset)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(NOT COSCHED_SANITIZER STREQUAL "")
  message(FATAL_ERROR
          "COSCHED_SANITIZER must be '', 'address', 'thread' or 'fuzzer', got '${COSCHED_SANITIZER}'")
endif()
