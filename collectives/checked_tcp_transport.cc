// File: collectives/checked_tcp_transport.cc
#include "collectives/checked_tcp_transport.h"

#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/mutex.h"
#include "gloo/transport/tcp/buffer.h"

namespace cosched::collectives {
namespace {

using gloo::transport::tcp::Op;

// A buffer's size is a protected member of gloo's Buffer with no accessor; this reaches it
// through a pointer-to-member of a derived class, as TcpPairInternals does in gloo_group.cc.
struct BufferInternals : gloo::transport::Buffer {
  static size_t Size(const gloo::transport::Buffer& buffer) {
    return buffer.*(&BufferInternals::size_);
  }
};

// The live pairs of one device's contexts, so that FailAllPairs can reach them. Lock order:
// the registry's mutex, then a pair's own (signalExceptionExternal takes it); nothing that
// holds a pair's mutex calls in here.
class PairRegistry {
 public:
  // A pair added after FailAll is failed at once.
  void Add(CheckedTcpPair* pair) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    pairs_.insert(pair);
    if (failed_.has_value()) pair->Fail(*failed_);
  }
  // Before the pair is destroyed: a FailAll running now finishes first.
  void Remove(CheckedTcpPair* pair) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    pairs_.erase(pair);
  }
  void FailAll(const std::string& reason) ABSL_LOCKS_EXCLUDED(mu_) {
    MutexLock lock(&mu_);
    if (failed_.has_value()) return;
    failed_ = reason;
    // gloo ignores this on a pair that has failed already.
    for (CheckedTcpPair* pair : pairs_) pair->Fail(reason);
  }

 private:
  Mutex mu_;
  std::set<CheckedTcpPair*> pairs_ ABSL_GUARDED_BY(mu_);
  std::optional<std::string> failed_ ABSL_GUARDED_BY(mu_);
};

class CheckedTcpContext : public gloo::transport::tcp::Context {
 public:
  CheckedTcpContext(std::shared_ptr<gloo::transport::tcp::Device> device, int own_rank,
                    int world_size, TcpPairFactory pair_factory, PairRegistry* registry)
      : Context(std::move(device), own_rank, world_size),
        pair_factory_(std::move(pair_factory)),
        registry_(registry) {}
  // The pairs are destroyed by gloo's destructor, which runs after this one.
  ~CheckedTcpContext() override {
    for (const auto& pair : pairs_) {
      if (pair != nullptr) registry_->Remove(static_cast<CheckedTcpPair*>(pair.get()));
    }
  }

  // As gloo's own createPair, with the factory's pair in place of a plain one.
  std::unique_ptr<gloo::transport::Pair>& createPair(int peer_rank) override {
    if (pairs_[peer_rank] != nullptr) {
      registry_->Remove(static_cast<CheckedTcpPair*>(pairs_[peer_rank].get()));
    }
    std::unique_ptr<CheckedTcpPair> pair =
        pair_factory_(this, device_.get(), peer_rank, getTimeout());
    CheckedTcpPair* added = pair.get();
    pairs_[peer_rank] = std::move(pair);
    registry_->Add(added);
    return pairs_[peer_rank];
  }

 private:
  const TcpPairFactory pair_factory_;
  PairRegistry* const registry_;  // the device's, which outlives this context
};

class CheckedTcpDevice : public gloo::transport::tcp::Device {
 public:
  CheckedTcpDevice(const gloo::transport::tcp::attr& attr, TcpPairFactory pair_factory)
      : Device(attr), pair_factory_(std::move(pair_factory)) {}

  std::shared_ptr<gloo::transport::Context> createContext(int own_rank, int world_size) override {
    return std::make_shared<CheckedTcpContext>(shared_from_this(), own_rank, world_size,
                                               pair_factory_, &registry_);
  }

  PairRegistry& registry() { return registry_; }

 private:
  const TcpPairFactory pair_factory_;
  PairRegistry registry_;
};

}  // namespace

CheckedTcpPair::~CheckedTcpPair() {
  // gloo's ~Pair closes the socket and leaves the event loop, but it runs after this class's
  // part is destroyed, while gloo's loop thread may still be inside handleEvents() -> read()
  // here, holding the pair's lock (UBSan's vptr check caught it reading header_checked_ of
  // an object already turned back into a plain Pair). Closing here first waits for that
  // handler to return (the lock), and leaving the loop waits for its next tick, after which
  // it calls this pair no more.
  std::lock_guard<std::mutex> lock(m_);
  if (state_ != CLOSED) changeState(CLOSED);
}

void CheckedTcpPair::handleEvents(int events) {
  try {
    Pair::handleEvents(events);
  } catch (const std::exception& e) {
    // Whatever gloo throws here would end the process; fail this pair instead. The pair's
    // lock was released as the exception left gloo's handler.
    signalExceptionExternal(absl::StrCat("connection to rank ", rank_, " (", peer_.str(),
                                         ") failed on gloo's event loop: ", e.what()));
  }
}

bool CheckedTcpPair::read() {
  // Sync mode reads on the caller's thread with gloo's blocking semantics; cosched does not
  // use it, so it is left to gloo unchecked.
  if (state_ != CONNECTED || sync_) return Pair::read();
  if (rx_.nread < sizeof(rx_.preamble)) header_checked_ = false;
  if (!header_checked_) {
    if (!ReadHeader()) return false;
    if (const std::string problem = ProblemWithHeader(); !problem.empty()) {
      signalException(
          absl::StrCat("malformed message from rank ", rank_, " (", peer_.str(), "): ", problem));
      return false;
    }
    // gloo waits the same way for a buffer the peer wrote to before this side registered it;
    // the header is checked again against the buffer once it is there.
    if (rx_.getOpcode() == Op::SEND_BUFFER && buffers_.count(rx_.preamble.slot) == 0) {
      return false;
    }
    header_checked_ = true;
  }
  return Pair::read();
}

bool CheckedTcpPair::ReadHeader() {
  auto* header = reinterpret_cast<char*>(&rx_.preamble);
  while (rx_.nread < sizeof(rx_.preamble)) {
    const ssize_t n =
        ::recv(fd_, header + rx_.nread, sizeof(rx_.preamble) - rx_.nread, MSG_DONTWAIT);
    if (n > 0) {
      rx_.nread += static_cast<size_t>(n);
      continue;
    }
    if (n == -1 && errno == EINTR) continue;
    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    // Worded as gloo words the same failures in its own read.
    signalException(n == 0 ? absl::StrCat("Connection closed by peer ", peer_.str())
                           : absl::StrCat("Read error ", peer_.str(), ": ", std::strerror(errno)));
    return false;
  }
  return true;
}

std::string CheckedTcpPair::ProblemWithHeader() {
  const auto& header = rx_.preamble;
  switch (header.opcode) {
    case Op::NOTIFY_SEND_READY:
    case Op::NOTIFY_RECV_READY:
      return "";
    case Op::SEND_BUFFER: {
      if (header.slot > static_cast<size_t>(INT_MAX)) {
        return absl::StrCat("a message for buffer slot ", header.slot, ", which cannot exist");
      }
      if (header.length > SIZE_MAX - header.roffset) {
        return absl::StrCat("a message of ", header.length, " bytes at offset ", header.roffset,
                            ", which runs past the end of memory");
      }
      const auto buffer = buffers_.find(static_cast<int>(header.slot));
      if (buffer == buffers_.end()) return "";  // checked again once registered (see read)
      const size_t size = BufferInternals::Size(*buffer->second);
      if (header.roffset + header.length > size) {
        return absl::StrCat("a message of ", header.length, " bytes at offset ", header.roffset,
                            " for a buffer of ", size, " bytes (slot ", header.slot, ")");
      }
      return "";
    }
    case Op::SEND_UNBOUND_BUFFER: {
      // The peer sends data only after this side said a receive is posted (NOTIFY_RECV_READY),
      // and gloo then fills the oldest receive posted for the slot.
      const auto posted = localPendingRecv_.find(header.slot);
      if (posted == localPendingRecv_.end() || posted->second.empty()) {
        return absl::StrCat("a message of ", header.length, " bytes for slot ", header.slot,
                            ", where no receive is posted");
      }
      const size_t expected = std::get<2>(posted->second.front());
      if (header.length > expected) {
        return absl::StrCat("a message of ", header.length, " bytes for a receive of ", expected,
                            " bytes (slot ", header.slot, ")");
      }
      return "";
    }
    default:
      return absl::StrCat("a message of unknown type ", header.opcode);
  }
}

std::shared_ptr<gloo::transport::Device> CreateCheckedTcpDevice(const std::string& address,
                                                                TcpPairFactory pair_factory) {
  if (!pair_factory) {
    pair_factory = [](gloo::transport::tcp::Context* context, gloo::transport::tcp::Device* device,
                      int peer_rank, std::chrono::milliseconds timeout) {
      return std::make_unique<CheckedTcpPair>(context, device, peer_rank, timeout);
    };
  }
  gloo::transport::tcp::attr attr;
  attr.hostname = address;
  return std::make_shared<CheckedTcpDevice>(gloo::transport::tcp::CreateDeviceAttr(attr),
                                            std::move(pair_factory));
}

absl::Status FailAllPairs(gloo::transport::Device& device, const std::string& reason) {
  auto* checked = dynamic_cast<CheckedTcpDevice*>(&device);
  if (checked == nullptr) {
    return absl::FailedPreconditionError(
        "FailAllPairs needs a device made by CreateCheckedTcpDevice");
  }
  checked->registry().FailAll(reason);
  return absl::OkStatus();
}

}  // namespace cosched::collectives
