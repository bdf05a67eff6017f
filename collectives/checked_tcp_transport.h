// File: collectives/checked_tcp_transport.h
// gloo's TCP transport with every incoming message header checked before gloo acts on it.
//
// gloo trusts its peers: a header that names an unknown message type, a receive nobody posted,
// more bytes than the receive expects, or an offset past the end of a buffer trips a
// GLOO_ENFORCE on gloo's event-loop thread, where nothing catches it, and the process ends
// (an offset that wraps around even passes gloo's check and writes outside the buffer). A
// peer's bytes must never end a rank, so CheckedTcpPair reads each header itself, checks it
// against what this side has posted, and on a bad one fails the pair the way gloo fails it on a
// broken connection: every operation waiting on that peer throws gloo::IoException naming the
// peer and what was wrong, and GlooGroup turns that into a failed generation. Anything gloo
// still throws on its loop thread fails the pair the same way instead of ending the process.
//
// The subclasses only add checks around gloo's own code (gloo 0.0~git20220518, Debian's): the
// wire format, the handshake and every path gloo's collectives take are unchanged, so a
// checked rank talks to a plain gloo rank.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "gloo/transport/tcp/context.h"
#include "gloo/transport/tcp/device.h"
#include "gloo/transport/tcp/pair.h"

namespace cosched::collectives {

class CheckedTcpPair : public gloo::transport::tcp::Pair {
 public:
  using gloo::transport::tcp::Pair::Pair;
  // Closes the pair while this class's part still exists (see the definition).
  ~CheckedTcpPair() override;

  // gloo's loop thread calls this for every socket event; it cannot let an exception out.
  void handleEvents(int events) override;

  // Fails the pair with `reason` unless it has failed already (see FailAllPairs).
  void Fail(const std::string& reason) { signalExceptionExternal(reason); }

 protected:
  // Reads the header of the next message itself and checks it before gloo reads the payload.
  bool read() override;

 private:
  // Reads what has arrived of the current header; true once it is whole.
  bool ReadHeader();
  // Empty when the header is one this side can accept now; otherwise what is wrong with it.
  std::string ProblemWithHeader();

  // Whether the current message's header has passed ProblemWithHeader (guarded by m_).
  bool header_checked_ = false;
};

// Makes the pairs of a CheckedTcpDevice's contexts. Tests substitute a subclass of
// CheckedTcpPair that writes bad headers, to play a misbehaving peer over a real socket.
using TcpPairFactory = std::function<std::unique_ptr<CheckedTcpPair>(
    gloo::transport::tcp::Context* context, gloo::transport::tcp::Device* device, int peer_rank,
    std::chrono::milliseconds timeout)>;

// A gloo TCP device listening on `address` (numeric; gloo picks the port) whose pairs are
// CheckedTcpPairs, or what `pair_factory` makes. Throws what gloo's CreateDevice throws.
std::shared_ptr<gloo::transport::Device> CreateCheckedTcpDevice(const std::string& address,
                                                                TcpPairFactory pair_factory = {});

// Fails every pair of `device` (one made by CreateCheckedTcpDevice), and every pair it makes
// from now on, with `reason`, the way gloo fails a pair on a broken connection: whatever waits
// on one (a connect, an operation) throws gloo::IoException at once. gloo connects a context's
// pairs one after another and waits five times its timeout for each peer that does not come; a
// rank whose generation was superseded calls this to stop waiting now. Thread-safe; never
// throws (stop callbacks call it). FAILED_PRECONDITION for a device made otherwise.
absl::Status FailAllPairs(gloo::transport::Device& device, const std::string& reason);

}  // namespace cosched::collectives
