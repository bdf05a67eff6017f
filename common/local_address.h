// File: common/local_address.h
// Finding the address of this host that a peer can reach: the address a rank advertises to
// the other ranks of its group (cosched-worker --advertise-address and its defaults).
//
// Nothing here sends a packet: the route to a destination is read from the kernel by
// connecting a UDP socket (which only picks the route and the local address) and asking for
// its name; interfaces come from getifaddrs(3).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cosched {

// The local address of the route to `destination` (a "HOST:PORT" or a bare host; IPv6 hosts
// in brackets), e.g. the address a worker's traffic to its scheduler leaves from.
absl::StatusOr<std::string> LocalAddressTowards(absl::string_view destination);

// The first IPv4 address of the network interface `name` (an IPv6 one if it has no IPv4),
// like Open MPI's btl_tcp_if_include. NotFound names the interfaces that exist.
absl::StatusOr<std::string> InterfaceAddress(absl::string_view name);

// The address of the interface that holds the default route (IPv4), or NotFound when this
// host has no default route (a network namespace that only has a bridge, say).
absl::StatusOr<std::string> DefaultRouteAddress();

// The host part of "HOST:PORT" ("[::1]:70" -> "::1"); the whole text when it has no port.
std::string HostOfAddress(absl::string_view address);

}  // namespace cosched
