// File: common/termination_signals.h
// SIGINT/SIGTERM handled synchronously: main() blocks them in every thread (before it starts
// any) and one thread waits for them, so shutdown runs as ordinary code, not in a handler.
#pragma once

namespace cosched {

// Blocks SIGINT and SIGTERM in the calling thread and every thread it starts afterwards.
void BlockTerminationSignals();
// Waits until SIGINT or SIGTERM arrives (they must be blocked); returns the signal number.
int WaitForTerminationSignal();

}  // namespace cosched
