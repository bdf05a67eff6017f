# cosched_library(NAME SRCS ... [HDRS ...] [DEPS ...])
#   A static library named cosched_<NAME>; include paths are rooted at the repository top,
#   so code includes "common/clock.h", "collectives/group.h", ...
function(cosched_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;HDRS;DEPS" ${ARGN})
  add_library(cosched_${name} STATIC ${ARG_SRCS} ${ARG_HDRS})
  target_include_directories(cosched_${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(cosched_${name} PUBLIC ${ARG_DEPS})
  target_compile_options(cosched_${name} PRIVATE ${COSCHED_WARNING_FLAGS})
endfunction()

# cosched_binary(NAME SRCS ... [DEPS ...]) builds bin/NAME.
function(cosched_binary name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  target_compile_options(${name} PRIVATE ${COSCHED_WARNING_FLAGS})
endfunction()

# cosched_test(NAME SRCS ... [DEPS ...] [LABELS ...] [TIMEOUT s] [SINGLE_THREADED])
#   A GoogleTest binary registered test-by-test with CTest. LABELS "unit" marks tests that
#   run under the sanitizer presets; "process" marks tests that start processes.
#   SINGLE_THREADED: the binary starts no thread, so TSan, which finds races between threads,
#   skips it; ASan still runs it. Its label "unit" becomes "unit_single_threaded" (one label:
#   gtest_discover_tests cannot pass a list), which the asan preset's "^unit" matches and the
#   tsan preset's "^unit$" does not. A thread started anyway aborts the run
#   (tests/support/single_threaded_guard.cc), so the mark cannot go stale.
function(cosched_test name)
  cmake_parse_arguments(ARG "SINGLE_THREADED" "TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  if(ARG_SINGLE_THREADED)
    if(NOT ARG_LABELS STREQUAL "unit")
      message(FATAL_ERROR "${name}: SINGLE_THREADED is for unit tests (labels: ${ARG_LABELS})")
    endif()
    set(ARG_LABELS unit_single_threaded)
    list(APPEND ARG_SRCS ${PROJECT_SOURCE_DIR}/tests/support/single_threaded_guard.cc)
  endif()
  add_executable(${name} ${ARG_SRCS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  target_compile_options(${name} PRIVATE ${COSCHED_WARNING_FLAGS})
  gtest_discover_tests(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
                       DISCOVERY_TIMEOUT 60)
  if("unit" IN_LIST ARG_LABELS OR ARG_SINGLE_THREADED)
    set_property(GLOBAL APPEND PROPERTY COSCHED_UNIT_TESTS ${name})
    if(NOT ARG_SINGLE_THREADED)
      set_property(GLOBAL APPEND PROPERTY COSCHED_THREADED_UNIT_TESTS ${name})
    endif()
  endif()
endfunction()
