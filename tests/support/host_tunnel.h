// File: tests/support/host_tunnel.h
// HostTunnel: a TCP port on this process's loopback whose connections lead into an emulated
// host (test_hosts.h), for gRPC clients in this process that speak TLS to a server in a host.
//
// This process is on none of the hosts' networks, and gRPC (1.51) builds a channel over a
// socket made elsewhere (TestHosts::ConnectTcp) only without TLS. So the client dials
// address() here; for every connection accepted there the tunnel makes one to `target` inside
// the host (ConnectTcp) and copies bytes both ways until both sides have closed. It sees only
// ciphertext: TLS runs end to end, between the client and the server.
//
//   auto tunnel = HostTunnel::Open(*hosts, 0, "198.18.37.1:7070");
//   auto channel = grpc::CreateChannel((*tunnel)->address(), credentials);
//
// One thread, owned by the object, serves every connection (poll). When the connection inside
// the host cannot be made (the server is down), the accepted one is closed at once: the
// client sees the server unavailable. The destructor stops and joins the thread and closes
// every socket; it must run before the TestHosts' (an open socket keeps its namespace alive),
// which must outlive the tunnel.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/unique_fd.h"
#include "tests/support/test_hosts.h"

namespace cosched::testing {

class HostTunnel {
 public:
  // Listens on 127.0.0.1 (a port of its own) for connections to `target` (IPv4:PORT) as seen
  // from host `host` of `hosts`.
  static absl::StatusOr<std::unique_ptr<HostTunnel>> Open(const TestHosts& hosts, int host,
                                                          std::string target);
  ~HostTunnel();
  HostTunnel(const HostTunnel&) = delete;
  HostTunnel& operator=(const HostTunnel&) = delete;

  // "127.0.0.1:PORT": where clients in this process connect.
  const std::string& address() const { return address_; }
  // Where its connections go, inside the host.
  const std::string& target() const { return target_; }

 private:
  HostTunnel(const TestHosts& hosts, int host, std::string target, UniqueFd listener, UniqueFd wake,
             std::string address);
  void Serve();  // the thread's loop, until wake_ is signalled

  const TestHosts& hosts_;
  const int host_;
  const std::string target_;
  const UniqueFd listener_;
  const UniqueFd wake_;  // an eventfd: the destructor's stop signal
  const std::string address_;
  std::thread thread_;
};

}  // namespace cosched::testing
