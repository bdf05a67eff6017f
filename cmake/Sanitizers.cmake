# COSCHED_SANITIZER=address turns on ASan and UBSan; =thread turns on TSan.
# Flags go on every target (including third-party code compiled here) so runtimes match.
if(COSCHED_SANITIZER STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(COSCHED_SANITIZER STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT COSCHED_SANITIZER STREQUAL "")
  message(FATAL_ERROR "COSCHED_SANITIZER must be '', 'address' or 'thread', got '${COSCHED_SANITIZER}'")
endif()
