// File: tests/support/single_threaded_guard.cc
// Compiled into every test binary marked SINGLE_THREADED (cosched_test in
// cmake/CoschedHelpers.cmake). TSan skips those binaries: a data race needs two threads, and
// they start none (checked with strace when they were marked). This keeps the mark true: the
// executable's own pthread_create comes before libc's, so the first thread such a test tries
// to start, from our code or a library's (std::thread, gRPC), ends the run with the reason.
#include <pthread.h>

#include <cstdio>
#include <cstdlib>

extern "C" int pthread_create(pthread_t* /*thread*/, const pthread_attr_t* /*attributes*/,
                              void* (* /*start*/)(void*), void* /*argument*/) {
  std::fputs(
      "this test binary is marked SINGLE_THREADED, so TSan does not run it, but it started a "
      "thread: remove SINGLE_THREADED from its cosched_test() so TSan checks it\n",
      stderr);
  std::abort();
}
