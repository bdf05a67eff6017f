// File: common/termination_signals.cc
#include "common/termination_signals.h"

#include <pthread.h>
#include <signal.h>

namespace cosched {
namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void BlockTerminationSignals() {
  const sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForTerminationSignal() {
  const sigset_t set = TerminationSignals();
  int received = 0;
  sigwait(&set, &received);
  return received;
}

}  // namespace cosched
