// File: tests/support/host_tunnel.cc
#include "tests/support/host_tunnel.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cosched::testing {
namespace {

constexpr size_t kChunkBytes = 64 * 1024;

// One accepted connection and its counterpart inside the host. Side 0 is the client's
// (accepted here), side 1 the one inside the host; bytes read from side s wait in pending[s]
// until side 1 - s has taken them.
struct Link {
  UniqueFd fd[2];
  std::string pending[2];
  size_t written[2] = {0, 0};          // of pending[s], already written to side 1 - s
  bool read_done[2] = {false, false};  // side s said end of stream
  bool passed_on[2] = {false, false};  // ... and side 1 - s was shut down for writing
  bool failed = false;                 // an error on either side: both are closed

  short Events(int s) const {
    short events = 0;
    if (!read_done[s] && pending[s].empty()) events |= POLLIN;
    if (!pending[1 - s].empty()) events |= POLLOUT;
    return events;
  }
  bool Finished() const { return failed || (passed_on[0] && passed_on[1]); }

  // Does what `revents` allows on side s.
  void Handle(int s, short asked, short revents) {
    if ((revents & (POLLERR | POLLNVAL)) != 0) {
      failed = true;
      return;
    }
    if ((asked & POLLIN) != 0 && (revents & (POLLIN | POLLHUP)) != 0) {
      char buffer[kChunkBytes];
      const ssize_t n = ::recv(fd[s].get(), buffer, sizeof(buffer), 0);
      if (n > 0) {
        pending[s].assign(buffer, static_cast<size_t>(n));
        written[s] = 0;
      } else if (n == 0) {
        read_done[s] = true;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        failed = true;
        return;
      }
    }
    if ((asked & POLLOUT) != 0 && (revents & (POLLOUT | POLLHUP)) != 0) {
      std::string& out = pending[1 - s];
      size_t& done = written[1 - s];
      const ssize_t n = ::send(fd[s].get(), out.data() + done, out.size() - done, MSG_NOSIGNAL);
      if (n >= 0) {
        done += static_cast<size_t>(n);
        if (done == out.size()) {
          out.clear();
          done = 0;
        }
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        failed = true;
        return;
      }
    }
    // An end of stream is passed on once everything read before it has been.
    for (int from = 0; from < 2; ++from) {
      if (read_done[from] && pending[from].empty() && !passed_on[from]) {
        ::shutdown(fd[1 - from].get(), SHUT_WR);
        passed_on[from] = true;
      }
    }
  }
};

void SetNoDelay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

absl::StatusOr<std::unique_ptr<HostTunnel>> HostTunnel::Open(const TestHosts& hosts, int host,
                                                             std::string target) {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (listener.get() < 0) {
    return absl::InternalError(absl::StrCat("HostTunnel: socket: ", std::strerror(errno)));
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(listener.get(), SOMAXCONN) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return absl::InternalError(
        absl::StrCat("HostTunnel: listening on 127.0.0.1: ", std::strerror(errno)));
  }
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (wake.get() < 0) {
    return absl::InternalError(absl::StrCat("HostTunnel: eventfd: ", std::strerror(errno)));
  }
  return std::unique_ptr<HostTunnel>(
      new HostTunnel(hosts, host, std::move(target), std::move(listener), std::move(wake),
                     absl::StrCat("127.0.0.1:", ntohs(address.sin_port))));
}

HostTunnel::HostTunnel(const TestHosts& hosts, int host, std::string target, UniqueFd listener,
                       UniqueFd wake, std::string address)
    : hosts_(hosts),
      host_(host),
      target_(std::move(target)),
      listener_(std::move(listener)),
      wake_(std::move(wake)),
      address_(std::move(address)),
      thread_([this] { Serve(); }) {}

HostTunnel::~HostTunnel() {
  const uint64_t one = 1;
  while (::write(wake_.get(), &one, sizeof(one)) < 0 && errno == EINTR) {
  }
  thread_.join();
}

void HostTunnel::Serve() {
  std::vector<std::unique_ptr<Link>> links;
  std::vector<pollfd> polled;
  std::vector<short> asked;
  while (true) {
    polled.assign({{wake_.get(), POLLIN, 0}, {listener_.get(), POLLIN, 0}});
    asked.clear();
    for (const std::unique_ptr<Link>& link : links) {
      for (int s = 0; s < 2; ++s) {
        const short events = link->Events(s);
        asked.push_back(events);
        // Nothing asked: not polled at all, or a hang-up would wake the loop for nothing.
        polled.push_back({events != 0 ? link->fd[s].get() : -1, events, 0});
      }
    }
    if (::poll(polled.data(), polled.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;  // cannot happen with valid arguments; the destructor still joins
    }
    if (polled[0].revents != 0) return;  // stop
    for (size_t i = 0; i < links.size(); ++i) {
      for (int s = 0; s < 2 && !links[i]->failed; ++s) {
        const size_t at = 2 + 2 * i + static_cast<size_t>(s);
        if (polled[at].revents != 0) links[i]->Handle(s, asked[at - 2], polled[at].revents);
      }
    }
    std::erase_if(links, [](const std::unique_ptr<Link>& link) { return link->Finished(); });
    if ((polled[1].revents & POLLIN) != 0) {
      UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (client.get() < 0) continue;
      // Refused or unreachable inside the host: `client` closes, and its peer sees the server
      // unavailable, as it would have without the tunnel.
      absl::StatusOr<int> inside = hosts_.ConnectTcp(host_, target_);
      if (!inside.ok()) continue;
      auto link = std::make_unique<Link>();
      link->fd[0] = std::move(client);
      link->fd[1] = UniqueFd(*inside);
      ::fcntl(*inside, F_SETFL, ::fcntl(*inside, F_GETFL) | O_NONBLOCK);
      SetNoDelay(link->fd[0].get());
      SetNoDelay(link->fd[1].get());
      links.push_back(std::move(link));
    }
  }
}

}  // namespace cosched::testing
