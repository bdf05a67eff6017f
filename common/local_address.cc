// File: common/local_address.cc
#include "common/local_address.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cosched {
namespace {

std::string NumericHost(const sockaddr* address, socklen_t length) {
  char numeric[NI_MAXHOST];
  if (::getnameinfo(address, length, numeric, sizeof(numeric), nullptr, 0, NI_NUMERICHOST) != 0) {
    return "";
  }
  return numeric;
}

// The "%eth0" zone of a link-local IPv6 address is useless to a peer on another host.
std::string WithoutZone(std::string host) {
  const size_t percent = host.find('%');
  if (percent != std::string::npos) host.resize(percent);
  return host;
}

}  // namespace

std::string HostOfAddress(absl::string_view address) {
  if (!address.empty() && address.front() == '[') {
    const size_t close = address.find(']');
    if (close != absl::string_view::npos) return std::string(address.substr(1, close - 1));
  }
  const size_t colon = address.rfind(':');
  // Exactly one colon: HOST:PORT. None, or several (a bare IPv6 address): all host.
  if (colon == absl::string_view::npos || address.find(':') != colon) return std::string(address);
  return std::string(address.substr(0, colon));
}

absl::StatusOr<std::string> LocalAddressTowards(absl::string_view destination) {
  const std::string host = HostOfAddress(destination);
  if (host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no host in '", destination, "'"));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* resolved = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), "9", &hints, &resolved); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve '", host, "' to find the route to it: ", ::gai_strerror(rc)));
  }
  std::string error = "no address";
  for (addrinfo* a = resolved; a != nullptr; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    sockaddr_storage local{};
    socklen_t length = sizeof(local);
    // connect(2) on a UDP socket sends nothing: it fixes the route and the source address.
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0) {
      ::close(fd);
      ::freeaddrinfo(resolved);
      const std::string numeric = NumericHost(reinterpret_cast<sockaddr*>(&local), length);
      if (numeric.empty()) return absl::InternalError("cannot print the local address");
      return WithoutZone(numeric);
    }
    error = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(resolved);
  return absl::UnavailableError(absl::StrCat("no route to '", host, "': ", error));
}

absl::StatusOr<std::string> InterfaceAddress(absl::string_view name) {
  ifaddrs* interfaces = nullptr;
  if (::getifaddrs(&interfaces) != 0) {
    return absl::UnavailableError(absl::StrCat("getifaddrs: ", std::strerror(errno)));
  }
  std::string ipv4, ipv6;
  std::set<std::string> names;
  for (ifaddrs* i = interfaces; i != nullptr; i = i->ifa_next) {
    if (i->ifa_name != nullptr) names.insert(i->ifa_name);
    if (i->ifa_addr == nullptr || name != i->ifa_name) continue;
    if (i->ifa_addr->sa_family == AF_INET && ipv4.empty()) {
      ipv4 = NumericHost(i->ifa_addr, sizeof(sockaddr_in));
    } else if (i->ifa_addr->sa_family == AF_INET6 && ipv6.empty()) {
      ipv6 = WithoutZone(NumericHost(i->ifa_addr, sizeof(sockaddr_in6)));
    }
  }
  ::freeifaddrs(interfaces);
  if (!ipv4.empty()) return ipv4;
  if (!ipv6.empty()) return ipv6;
  if (!names.contains(std::string(name))) {
    return absl::NotFoundError(absl::StrCat("no network interface '", name,
                                            "' (this host has: ", absl::StrJoin(names, ", "), ")"));
  }
  return absl::NotFoundError(absl::StrCat("network interface '", name, "' has no IP address"));
}

absl::StatusOr<std::string> DefaultRouteAddress() {
  // /proc/net/route: "Iface Destination Gateway Flags ..." in hex; destination 0 is default.
  std::ifstream routes("/proc/net/route");
  std::string line;
  std::getline(routes, line);  // header
  while (std::getline(routes, line)) {
    std::istringstream fields(line);
    std::string interface, destination;
    if (fields >> interface >> destination && destination == "00000000") {
      return InterfaceAddress(interface);
    }
  }
  return absl::NotFoundError("this host has no default route");
}

}  // namespace cosched
