// File: collectives/direct_link.h
// DirectLink: one TCP connection between the two members of a two-party mesh (a group of 2
// ranks, or the leaders of a group on 2 hosts), driven by the thread that runs the operation.
//
// Why not gloo's pairs: gloo reads its sockets on a loop thread of its own, so every message
// wakes that thread and then the caller, two wake-ups a hop. Open MPI's TCP path reads its
// sockets from the calling thread and was 3x faster than gloo at 4 KiB over the same bridge
// (docs/benchmarks.md). Here the caller sends and receives itself on a non-blocking socket and
// sleeps in poll() only when neither direction can move: one wake-up, by the kernel.
//
// Forming: side 0 listens on its advertised address and publishes "<token> <host> <port>"
// under a key of the generation; side 1 reads it, connects and presents the token, so a stray
// connection to the port is turned away. Both give up at the timeout or when `stop` is
// requested (the generation was superseded).
//
// Thread model: one thread drives the link (SendSome, ReceiveSome, Wait); any thread may
// Abort(), which wakes it at once and closes the connection so the peer stops too.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <stop_token>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "collectives/key_value_store.h"

namespace cosched::collectives {

class DirectLink {
 public:
  // `side` is 0 or 1; the two callers pass the same `key` and different sides.
  // `listen_address` is side 0's numeric address (side 1 ignores it). DEADLINE_EXCEEDED or
  // UNAVAILABLE naming the peer when it cannot be reached, CANCELLED when `stop` came first.
  static absl::StatusOr<std::unique_ptr<DirectLink>> Connect(KeyValueStore& store,
                                                             const std::string& key, int side,
                                                             const std::string& listen_address,
                                                             absl::Duration timeout,
                                                             std::stop_token stop);
  ~DirectLink();
  DirectLink(const DirectLink&) = delete;
  DirectLink& operator=(const DirectLink&) = delete;

  int side() const { return side_; }
  const std::string& peer() const { return peer_; }  // "host:port" for messages

  // Writes what the socket takes now of `parts`, in order, in one system call, without
  // blocking: 0 when it takes nothing. (One call for a header and its data puts them in one
  // segment, so the peer wakes once.)
  absl::StatusOr<size_t> SendSome(absl::Span<const absl::Span<char>> parts);
  // Reads what has arrived into `parts`, in order, without blocking: 0 when nothing has.
  // UNAVAILABLE when the peer closed the connection, ABORTED after Abort().
  absl::StatusOr<size_t> ReceiveSome(absl::Span<const absl::Span<char>> parts);
  // Sleeps until the socket is readable (if `read`) or writable (if `write`), the link is
  // aborted (ABORTED) or `deadline` passes (DEADLINE_EXCEEDED).
  absl::Status Wait(bool read, bool write, absl::Time deadline);

  // What a wait on several links (a ring's two neighbours) watches one of them for.
  struct WaitFor {
    DirectLink* link;
    bool read;
    bool write;
  };
  // Sleeps until one of `waits` can move as asked, one of their links is aborted (ABORTED) or
  // `deadline` passes (DEADLINE_EXCEEDED naming the peers waited for).
  static absl::Status WaitAny(absl::Span<const WaitFor> waits, absl::Time deadline);

  // Any thread. Every wait and transfer fails from now on; the peer sees the connection close.
  void Abort();

 private:
  DirectLink(int fd, int wake_fd, int side, std::string peer);
  absl::Status Failure(absl::string_view what, int error) const;

  const int fd_;
  const int wake_fd_;  // an eventfd that Abort() writes to
  const int side_;
  const std::string peer_;
  std::atomic<bool> aborted_{false};
};

}  // namespace cosched::collectives
