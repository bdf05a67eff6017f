// File: collectives/direct_link.cc
#include "collectives/direct_link.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/unique_fd.h"

namespace cosched::collectives {
namespace {

// What side 1 sends first: the magic, then side 0's token.
constexpr absl::string_view kHelloMagic = "cosched-direct-1 ";
constexpr size_t kTokenLength = 32;
// How long side 0 waits for a connection's hello before turning it away. The peer sends its
// hello right after connecting, so even a slow link delivers its 49 bytes well within this.
constexpr absl::Duration kHelloWindow = absl::Seconds(5);

std::string RandomToken() {
  std::random_device device;
  constexpr absl::string_view kDigits = "0123456789abcdef";
  std::string token;
  for (size_t i = 0; i < kTokenLength; ++i) token.push_back(kDigits[device() % 16]);
  return token;
}

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// poll(2) on `fds` until one is ready (true) or `deadline` passes (false), through EINTR.
absl::StatusOr<bool> PollBefore(absl::Span<pollfd> fds, absl::Time deadline) {
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    // Rounded up, so that a wait of less than a millisecond does not spin.
    const int ms = static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
    const int ready = ::poll(fds.data(), fds.size(), ms);
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return Errno("poll");
  }
}

// Sleeps until `fd` has `events`, `wake_fd` is readable (ABORTED or CANCELLED, as `woken`
// says), or `deadline` (DEADLINE_EXCEEDED naming `waiting_for`).
absl::Status PollUntil(int fd, short events, int wake_fd, absl::Time deadline,
                       const absl::Status& woken, absl::string_view waiting_for) {
  pollfd fds[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
  ASSIGN_OR_RETURN(const bool ready, PollBefore(fds, deadline));
  if (!ready) return absl::DeadlineExceededError(absl::StrCat("timed out ", waiting_for));
  return fds[1].revents != 0 ? woken : absl::OkStatus();
}

absl::StatusOr<sockaddr_storage> ParseAddress(const std::string& host, const std::string& port,
                                              socklen_t& length) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* result = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &result); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad address '", host, "' port '", port, "': ", ::gai_strerror(rc)));
  }
  sockaddr_storage address{};
  std::memcpy(&address, result->ai_addr, result->ai_addrlen);
  length = result->ai_addrlen;
  ::freeaddrinfo(result);
  return address;
}

// "host:port" of the other end of a connected socket, for messages.
std::string PeerName(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  char host[NI_MAXHOST];
  char port[NI_MAXSERV];
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
      ::getnameinfo(reinterpret_cast<sockaddr*>(&address), length, host, sizeof(host), port,
                    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return "the peer";
  }
  return absl::StrCat(host, ":", port);
}

void SetNoDelay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// Writes all of `bytes` to the non-blocking `fd` by `deadline`.
absl::Status SendAll(int fd, absl::string_view bytes, int wake_fd, absl::Time deadline,
                     const absl::Status& woken) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      RETURN_IF_ERROR(PollUntil(fd, POLLOUT, wake_fd, deadline, woken, "sending the hello"));
    } else {
      return Errno("send");
    }
  }
  return absl::OkStatus();
}

// Reads the hello from a connection side 0 accepted, comparing as bytes arrive: a connection
// whose bytes stop matching `expected` is turned away at once (false), without waiting for
// the rest. An error only when the wait itself ends (woken, or `deadline`).
absl::StatusOr<bool> ReceiveHello(int fd, absl::string_view expected, int wake_fd,
                                  absl::Time deadline, const absl::Status& woken) {
  std::string bytes(expected.size(), '\0');
  size_t got = 0;
  while (got < expected.size()) {
    const ssize_t n = ::recv(fd, bytes.data() + got, expected.size() - got, MSG_DONTWAIT);
    if (n > 0) {
      const absl::string_view arrived(bytes.data() + got, static_cast<size_t>(n));
      if (arrived != expected.substr(got, arrived.size())) return false;
      got += static_cast<size_t>(n);
    } else if (n == 0) {
      return false;  // closed before saying hello
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      RETURN_IF_ERROR(PollUntil(fd, POLLIN, wake_fd, deadline, woken, "reading the hello"));
    } else {
      return false;  // reset by the other end
    }
  }
  return true;
}

// Side 0: listens, publishes, and accepts the first connection that presents the token.
absl::StatusOr<int> Listen(KeyValueStore& store, const std::string& key,
                           const std::string& listen_address, int wake_fd, absl::Time deadline,
                           const absl::Status& woken) {
  socklen_t length = 0;
  ASSIGN_OR_RETURN(sockaddr_storage address, ParseAddress(listen_address, "0", length));
  UniqueFd listener(::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (listener.get() < 0) return Errno("socket");
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    return Errno(absl::StrCat("bind to ", listen_address));
  }
  if (::listen(listener.get(), 4) != 0) return Errno("listen");
  if (::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return Errno("getsockname");
  }
  const int port =
      ntohs(address.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&address)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  const std::string token = RandomToken();
  const std::string published = absl::StrCat(token, " ", listen_address, " ", port);
  RETURN_IF_ERROR(store.Set(key, std::vector<char>(published.begin(), published.end())));
  while (true) {
    RETURN_IF_ERROR(
        PollUntil(listener.get(), POLLIN, wake_fd, deadline, woken,
                  absl::StrCat("waiting for the peer to connect to ", listen_address, ":", port)));
    UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (accepted.get() < 0) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
      return Errno("accept");
    }
    // A connection gets a short window of its own to say hello: one that stays silent must not
    // hold the real peer, queued behind it, back until the rendezvous deadline.
    const absl::Time hello_deadline = std::min(deadline, absl::Now() + kHelloWindow);
    absl::StatusOr<bool> hello = ReceiveHello(accepted.get(), absl::StrCat(kHelloMagic, token),
                                              wake_fd, hello_deadline, woken);
    if (hello.ok() && *hello) {
      SetNoDelay(accepted.get());
      return accepted.Release();
    }
    if (!hello.ok() && (!absl::IsDeadlineExceeded(hello.status()) || absl::Now() >= deadline)) {
      return hello.status();  // woken, or the rendezvous itself is out of time
    }
    spdlog::warn("direct link {}: turned away a connection that did not present the token", key);
  }
}

// Side 1: reads side 0's address and token, connects and says hello.
absl::StatusOr<int> Dial(KeyValueStore& store, const std::string& key, absl::Duration timeout,
                         std::stop_token stop, int wake_fd, absl::Time deadline,
                         const absl::Status& woken) {
  ASSIGN_OR_RETURN(std::vector<char> value, store.GetUnlessStopped(key, timeout, stop));
  const std::vector<std::string> fields =
      absl::StrSplit(std::string(value.begin(), value.end()), ' ', absl::SkipEmpty());
  int port = 0;
  if (fields.size() != 3 || fields[0].size() != kTokenLength ||
      !absl::SimpleAtoi(fields[2], &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("direct link key ", key, " holds '",
                                                   std::string(value.begin(), value.end()),
                                                   "', not '<token> <host> <port>'"));
  }
  const std::string peer = absl::StrCat(fields[1], ":", fields[2]);
  socklen_t length = 0;
  ASSIGN_OR_RETURN(sockaddr_storage address, ParseAddress(fields[1], fields[2], length));
  UniqueFd fd(::socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Errno("socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    if (errno != EINPROGRESS) return Errno(absl::StrCat("connect to ", peer));
    RETURN_IF_ERROR(PollUntil(fd.get(), POLLOUT, wake_fd, deadline, woken,
                              absl::StrCat("connecting to ", peer)));
    int error = 0;
    socklen_t error_length = sizeof(error);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &error_length);
    if (error != 0) {
      return absl::UnavailableError(absl::StrCat("connect to ", peer, ": ", std::strerror(error)));
    }
  }
  SetNoDelay(fd.get());
  RETURN_IF_ERROR(
      SendAll(fd.get(), absl::StrCat(kHelloMagic, fields[0]), wake_fd, deadline, woken));
  return fd.Release();
}

}  // namespace

absl::StatusOr<std::unique_ptr<DirectLink>> DirectLink::Connect(KeyValueStore& store,
                                                                const std::string& key, int side,
                                                                const std::string& listen_address,
                                                                absl::Duration timeout,
                                                                std::stop_token stop) {
  if (side != 0 && side != 1) {
    return absl::InvalidArgumentError(absl::StrCat("direct link side must be 0 or 1, not ", side));
  }
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (wake.get() < 0) return Errno("eventfd");
  // The superseded generation's stop wakes whichever wait this is in.
  const int wake_fd = wake.get();
  std::stop_callback on_stop(stop, [wake_fd] {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd, &one, sizeof(one));
  });
  const absl::Status woken = absl::CancelledError("membership moved on (superseded)");
  const absl::Time deadline = absl::Now() + timeout;
  const absl::StatusOr<int> connected =
      side == 0 ? Listen(store, key, listen_address, wake_fd, deadline, woken)
                : Dial(store, key, timeout, stop, wake_fd, deadline, woken);
  if (!connected.ok()) {
    return absl::Status(
        connected.status().code(),
        absl::StrCat("direct link ", key, " as side ", side, ": ", connected.status().message()));
  }
  // Abort() writes the same eventfd from now on; a stop that came meanwhile is moot.
  uint64_t drained = 0;
  [[maybe_unused]] const ssize_t n = ::read(wake_fd, &drained, sizeof(drained));
  return std::unique_ptr<DirectLink>(
      new DirectLink(*connected, wake.Release(), side, PeerName(*connected)));
}

DirectLink::DirectLink(int fd, int wake_fd, int side, std::string peer)
    : fd_(fd), wake_fd_(wake_fd), side_(side), peer_(std::move(peer)) {}

DirectLink::~DirectLink() {
  ::close(fd_);
  ::close(wake_fd_);
}

absl::Status DirectLink::Failure(absl::string_view what, int error) const {
  if (aborted_.load()) return absl::AbortedError("direct link aborted");
  return absl::UnavailableError(
      absl::StrCat(what, " with ", peer_, ": ",
                   error == 0 ? "peer closed the connection" : std::strerror(error)));
}

namespace {

// At most kMaxParts of `parts` as iovecs for sendmsg/recvmsg.
constexpr size_t kMaxParts = 4;
msghdr Message(absl::Span<const absl::Span<char>> parts, std::array<iovec, kMaxParts>& vectors) {
  msghdr message{};
  size_t count = 0;
  for (const absl::Span<char>& part : parts) {
    if (count == kMaxParts) break;
    vectors[count++] = {part.data(), part.size()};
  }
  message.msg_iov = vectors.data();
  message.msg_iovlen = count;
  return message;
}

}  // namespace

absl::StatusOr<size_t> DirectLink::SendSome(absl::Span<const absl::Span<char>> parts) {
  if (aborted_.load()) return absl::AbortedError("direct link aborted");
  std::array<iovec, kMaxParts> vectors;
  const msghdr message = Message(parts, vectors);
  const ssize_t n = ::sendmsg(fd_, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n >= 0) return static_cast<size_t>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
  return Failure("send", errno);
}

absl::StatusOr<size_t> DirectLink::ReceiveSome(absl::Span<const absl::Span<char>> parts) {
  if (aborted_.load()) return absl::AbortedError("direct link aborted");
  std::array<iovec, kMaxParts> vectors;
  msghdr message = Message(parts, vectors);
  const ssize_t n = ::recvmsg(fd_, &message, MSG_DONTWAIT);
  if (n > 0) return static_cast<size_t>(n);
  if (n == 0) return Failure("receive", 0);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
  return Failure("receive", errno);
}

absl::Status DirectLink::Wait(bool read, bool write, absl::Time deadline) {
  const WaitFor wait = {this, read, write};
  return WaitAny({&wait, 1}, deadline);
}

absl::Status DirectLink::WaitAny(absl::Span<const WaitFor> waits, absl::Time deadline) {
  constexpr size_t kMaxLinks = 4;
  std::array<pollfd, 2 * kMaxLinks> fds{};
  const size_t count = std::min(waits.size(), kMaxLinks);
  for (size_t i = 0; i < count; ++i) {
    const short events =
        static_cast<short>((waits[i].read ? POLLIN : 0) | (waits[i].write ? POLLOUT : 0));
    // A link waited for in neither direction still watches its wake-up, not its socket:
    // poll reports a closed socket even for no events, and the wait would spin.
    fds[2 * i] = {events != 0 ? waits[i].link->fd_ : -1, events, 0};
    fds[2 * i + 1] = {waits[i].link->wake_fd_, POLLIN, 0};
  }
  ASSIGN_OR_RETURN(const bool ready, PollBefore(absl::MakeSpan(fds.data(), 2 * count), deadline));
  if (!ready) {
    std::string peers;
    for (size_t i = 0; i < count; ++i) {
      absl::StrAppend(&peers, i == 0 ? "" : ", ", waits[i].link->peer_);
    }
    return absl::DeadlineExceededError(absl::StrCat("timed out waiting for ", peers));
  }
  for (size_t i = 0; i < count; ++i) {
    if (fds[2 * i + 1].revents != 0) return absl::AbortedError("direct link aborted");
  }
  return absl::OkStatus();
}

void DirectLink::Abort() {
  if (aborted_.exchange(true)) return;
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof(one));
  // The peer, blocked on this side, sees the connection close now instead of at its timeout.
  ::shutdown(fd_, SHUT_RDWR);
}

}  // namespace cosched::collectives
