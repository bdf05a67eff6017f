// File: tests/support/test_hosts.h
// TestHosts: several emulated "hosts" on this machine for tests of ranks on separate hosts.
// Each host is a Linux network namespace with its own interface (eth0), its own IPv4 address
// and a private loopback; all hosts hang off one Linux bridge, which lives in a namespace of
// its own. Optionally a host's link is shaped (tc tbf, both directions) and its CPU capped
// (a cgroup quota). Programs started in a host (Wrap, Spawn) also get their own hostname
// (UTS namespace) and an /etc/hosts that names every host of the instance.
//
//   auto hosts = TestHosts::Create({{.name = "h0"}, {.name = "h1", .link_mbit = 20}});
//   auto server = (*hosts)->Spawn(1, {"my-server", "--listen", (*hosts)->address(1)});
//
// Addresses come only from 198.18.0.0/15 (RFC 2544 benchmarking range): each instance takes
// a /24 of its own, so parallel tests (ctest -j) never share names or subnets. Nothing is
// created in the machine's own network namespace: the hosts cannot reach it or the outside
// world, and it cannot see them.
//
// Cleanup: the destructor kills every process running in a host (spawned or not, daemons
// included), deletes the namespaces (with them the veths, the bridge and the qdiscs), the
// cgroups and dir(). A Create that fails removes what it made. State left by a test process
// that crashed is removed by the next Create on the machine (test_hosts_instance.h says how
// ownership is tracked). A Subprocess from Spawn may outlive the TestHosts (its process is
// dead by then; the Subprocess only reaps it). Close sockets from OpenSocket() before the
// destructor runs: an open socket keeps its namespace alive in the kernel.
//
// Needs root (Create returns FailedPrecondition otherwise) and ip, tc (iproute2), unshare,
// nsenter, mount (util-linux) and hostname. After Create the object does not change: its
// accessors, Wrap, Spawn and OpenSocket may be called from any thread.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/subprocess.h"
#include "tests/support/test_hosts_instance.h"

namespace cosched::testing {

// Programs run in a host find the instance's dir() in this variable (scripts/netns-rsh does).
inline constexpr char kHostsDirEnv[] = "COSCHED_TEST_HOSTS_DIR";

// Why TestHosts cannot work here (not root), or empty when it can.
std::string TestHostsUnavailableReason();

// For the SetUp of tests built on TestHosts: without root they skip with the reason, except
// under CI (CI set in the environment), where they must run and so fail instead.
#define COSCHED_REQUIRE_TEST_HOSTS()                                                  \
  do {                                                                                \
    const std::string cosched_why = ::cosched::testing::TestHostsUnavailableReason(); \
    if (!cosched_why.empty()) {                                                       \
      if (std::getenv("CI") != nullptr) FAIL() << cosched_why << " (CI must run it)"; \
      GTEST_SKIP() << cosched_why;                                                    \
    }                                                                                 \
  } while (false)

struct HostSpec {
  std::string name;         // letters, digits and '-'; unique within the instance
  double link_mbit = 0;     // 0 = unshaped; else a tbf rate limit on the link, both directions
  double cpu_fraction = 0;  // 0 = uncapped; e.g. 0.5 = half a core (cgroup cpu quota)
  std::string host_name{};  // what gethostname() says inside the host; default = name
};

struct TestHostsOptions {
  // Fault injection for tests of the cleanup path: setup step number `fail_at_step` (1-based)
  // fails as if its command had. 0 = none.
  int fail_at_step = 0;
};

class TestHosts {
 public:
  static absl::StatusOr<std::unique_ptr<TestHosts>> Create(std::vector<HostSpec> hosts,
                                                           const TestHostsOptions& options = {});
  ~TestHosts();
  TestHosts(const TestHosts&) = delete;
  TestHosts& operator=(const TestHosts&) = delete;

  int size() const { return static_cast<int>(hosts_.size()); }
  const std::string& name(int i) const { return host(i).spec.name; }
  const std::string& host_name(int i) const { return host(i).spec.host_name; }
  // The host's IPv4 address, e.g. "198.18.37.1".
  const std::string& address(int i) const { return host(i).address; }
  // The instance's subnet, e.g. "198.18.37.0/24" (what Open MPI's *_if_include accept).
  const std::string& subnet() const { return subnet_; }
  // The network namespace of host i, for `ip netns exec`.
  const std::string& netns(int i) const { return host(i).netns; }
  // The cgroup directory of host i; empty when cgroups cannot be created here and no host
  // asked for a CPU cap.
  const std::string& cgroup(int i) const { return host(i).cgroup; }
  // The prefix every name of this instance starts with, e.g. "csh37".
  const std::string& prefix() const { return lock_->prefix(); }
  // The instance's directory: `hosts` (/etc/hosts format: address, name, host name),
  // `netns` (name host-name address namespace cgroup, one host a line) and enter/<host>,
  // a script that runs its arguments inside a host; <host> is the name, the host name or the
  // address.
  const std::string& dir() const { return dir_; }

  // argv wrapped so that it runs inside host i: in its cgroup, with its hostname and
  // /etc/hosts, in its network namespace, with kHostsDirEnv set. The program keeps its pid
  // (every wrapper step execs), so the wrapped argv can be signalled like the original.
  std::vector<std::string> Wrap(int i, const std::vector<std::string>& argv) const;
  // Starts argv inside host i (see Wrap); `extra_env` entries are NAME=VALUE.
  absl::StatusOr<std::unique_ptr<Subprocess>> Spawn(int i, const std::vector<std::string>& argv,
                                                    std::vector<std::string> extra_env = {},
                                                    bool capture_stdout = true) const;
  // A socket (AF_INET, `type`) created inside host i's network namespace, for tests that
  // talk to a host from this process. The caller closes it.
  absl::StatusOr<int> OpenSocket(int i, int type) const;
  // A TCP socket made inside host i's namespace and connected to `address` (IPv4:PORT, as a
  // server in the hosts reports it), within 5 s. The caller owns it (a gRPC channel made with
  // grpc::CreateInsecureChannelFromFd takes it over; for TLS, see HostTunnel in host_tunnel.h).
  absl::StatusOr<int> ConnectTcp(int i, const std::string& address) const;

  // The start of an mpirun command line that, run inside one host (Spawn), starts one rank in
  // each host of `ranks_on` (names): orted is launched through `rsh_agent` (scripts/netns-rsh,
  // which enters the named host), and Open MPI's own traffic and its TCP BTL stay on this
  // instance's subnet. Append `-x NAME=VALUE` options and the program.
  std::vector<std::string> MpirunArgv(const std::vector<std::string>& ranks_on,
                                      const std::string& rsh_agent) const;

 private:
  struct Host {
    HostSpec spec;
    std::string address;
    std::string netns;
    std::string bridge_port;  // the veth end in the bridge namespace
    std::string cgroup;
  };

  TestHosts(std::unique_ptr<InstanceLock> lock, std::vector<HostSpec> specs);
  const Host& host(int i) const;
  absl::Status SetUp(const TestHostsOptions& options);
  absl::Status SetUpHost(const Host& host);
  absl::Status WriteFiles();
  // One setup step: runs `argv` (or fails it on purpose, see TestHostsOptions).
  absl::Status Run(const std::vector<std::string>& argv);
  absl::Status CountStep(const std::string& what);

  std::unique_ptr<InstanceLock> lock_;  // first member: released after everything else
  std::string subnet_;
  std::string bridge_netns_;
  std::string cgroup_;  // parent of the hosts' cgroups
  std::string dir_;
  std::vector<Host> hosts_;
  int steps_ = 0;
  int fail_at_step_ = 0;
};

}  // namespace cosched::testing
