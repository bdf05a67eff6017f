// File: tests/support/test_hosts.cc
#include "tests/support/test_hosts.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <system_error>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "tests/support/host_cgroup.h"
#include "tests/support/run_command.h"

namespace cosched::testing {
namespace {

constexpr int kMaxHosts = 254;  // .1 to .254 of the instance's /24

bool IsValidName(const std::string& name, size_t max_length) {
  return !name.empty() && name.size() <= max_length && name.front() != '-' &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-';
         });
}

// Names become namespace names, hostnames and file names, so they are kept to a safe set.
absl::Status Validate(std::vector<HostSpec>& specs) {
  if (specs.empty()) return absl::InvalidArgumentError("TestHosts needs at least one host");
  if (specs.size() > kMaxHosts) {
    return absl::InvalidArgumentError(
        absl::StrCat("TestHosts takes at most ", kMaxHosts, " hosts, got ", specs.size()));
  }
  std::set<std::string> aliases;
  for (size_t i = 0; i < specs.size(); ++i) {
    HostSpec& spec = specs[i];
    if (spec.host_name.empty()) spec.host_name = spec.name;
    const std::string which = absl::StrCat("host ", i, " ('", spec.name, "')");
    if (!IsValidName(spec.name, 32)) {
      return absl::InvalidArgumentError(
          absl::StrCat(which, ": name must be 1-32 letters, digits or '-', not starting with '-'"));
    }
    if (!IsValidName(spec.host_name, 63)) {
      return absl::InvalidArgumentError(
          absl::StrCat(which, ": host_name '", spec.host_name,
                       "' must be 1-63 letters, digits or '-', not starting with '-'"));
    }
    if (!std::isfinite(spec.link_mbit) || spec.link_mbit < 0 ||
        (spec.link_mbit > 0 && spec.link_mbit < 0.001)) {
      return absl::InvalidArgumentError(absl::StrCat(
          which, ": link_mbit must be 0 (unshaped) or at least 0.001, got ", spec.link_mbit));
    }
    if (!std::isfinite(spec.cpu_fraction) || spec.cpu_fraction < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          which, ": cpu_fraction must be 0 (uncapped) or positive, got ", spec.cpu_fraction));
    }
    for (const std::string& alias : std::set<std::string>{spec.name, spec.host_name}) {
      if (!aliases.insert(alias).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(which, ": the name '", alias, "' is used by another host"));
      }
    }
  }
  return absl::OkStatus();
}

// Claims a free instance. The search starts at a point derived from the pid and the clock,
// so concurrent test processes rarely even try the same index; the lock decides.
absl::StatusOr<std::unique_ptr<InstanceLock>> ClaimInstance() {
  const uint64_t seed = static_cast<uint64_t>(::getpid()) * 7919 +
                        static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()) / 1000);
  for (int k = 0; k < kMaxTestHostsInstances; ++k) {
    const int index = static_cast<int>((seed + k) % kMaxTestHostsInstances);
    auto lock = InstanceLock::TryClaim(index);
    if (lock.ok()) return lock;
    if (!absl::IsUnavailable(lock.status())) return lock.status();
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("all ", kMaxTestHostsInstances, " TestHosts instances are in use"));
}

// tc tbf arguments for `mbit` megabits per second. The bucket holds 10 ms of traffic (at
// least 16 KiB, so a full-size frame always fits) and the queue 50 ms: enough for TCP to
// reach the rate, small enough that the rate shows within a fraction of a second.
std::vector<std::string> TbfArgs(double mbit) {
  const double bytes_per_second = mbit * 1e6 / 8;
  const int64_t burst = std::max<int64_t>(16384, std::llround(bytes_per_second / 100));
  return {"tbf",
          "rate",
          absl::StrCat(std::llround(mbit * 1000), "kbit"),
          "burst",
          absl::StrCat(burst),
          "latency",
          "50ms"};
}

absl::Status WriteTextFile(const std::string& path, const std::string& content, bool executable) {
  {
    std::ofstream out(path, std::ios::trunc);
    out << content;
    out.close();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  if (executable) {
    std::error_code ec;
    std::filesystem::permissions(
        path,
        std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
            std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
            std::filesystem::perms::others_exec,
        ec);
    if (ec) return absl::InternalError(absl::StrCat("chmod ", path, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

std::string TestHostsUnavailableReason() {
  if (::geteuid() != 0) {
    return "TestHosts needs root: it creates network namespaces, qdiscs and cgroups (run the "
           "test as root)";
  }
  return "";
}

absl::StatusOr<std::unique_ptr<TestHosts>> TestHosts::Create(std::vector<HostSpec> hosts,
                                                             const TestHostsOptions& options) {
  RETURN_IF_ERROR(Validate(hosts));
  if (std::string why = TestHostsUnavailableReason(); !why.empty()) {
    return absl::FailedPreconditionError(why);
  }
  // A crashed earlier run must not leave the machine a little fuller every time.
  if (absl::Status stale = RemoveStaleInstances(); !stale.ok()) {
    spdlog::warn("TestHosts: could not remove leftovers of earlier runs: {}",
                 std::string(stale.message()));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<InstanceLock> lock, ClaimInstance());
  const std::string prefix = lock->prefix();
  // Leftovers under this very prefix that the sweep above could not remove: one more try,
  // since setting up on top of them would fail in confusing ways.
  if (FindInstanceState(prefix).size() > 1) {  // the lock file is ours
    if (absl::Status s = RemoveInstanceState(prefix); !s.ok()) return s;
  }
  std::unique_ptr<TestHosts> instance(new TestHosts(std::move(lock), std::move(hosts)));
  if (absl::Status s = instance->SetUp(options); !s.ok()) {
    // `instance` goes out of scope here; its destructor removes what SetUp made.
    return absl::Status(s.code(), absl::StrCat("TestHosts ", prefix, ": ", s.message()));
  }
  return instance;
}

TestHosts::TestHosts(std::unique_ptr<InstanceLock> lock, std::vector<HostSpec> specs)
    : lock_(std::move(lock)) {
  const int index = lock_->index();
  const std::string net = absl::StrCat("198.", 18 + index / 256, ".", index % 256, ".");
  subnet_ = absl::StrCat(net, "0/24");
  bridge_netns_ = prefix();
  cgroup_ = absl::StrCat(CpuCgroupRoot(), "/", prefix());
  dir_ = absl::StrCat(kTestHostsStateDir, "/", prefix());
  for (size_t i = 0; i < specs.size(); ++i) {
    Host host;
    host.address = absl::StrCat(net, i + 1);
    host.netns = absl::StrCat(prefix(), "-", specs[i].name);
    host.bridge_port = absl::StrCat(prefix(), "-", i);  // at most "csh511-253": 10 < 16 chars
    host.cgroup = absl::StrCat(cgroup_, "/", specs[i].name);
    host.spec = std::move(specs[i]);
    hosts_.push_back(std::move(host));
  }
}

TestHosts::~TestHosts() {
  if (absl::Status s = RemoveInstanceState(prefix()); !s.ok()) {
    spdlog::error("TestHosts: {}", std::string(s.message()));
  }
}

const TestHosts::Host& TestHosts::host(int i) const {
  COSCHED_CHECK(i >= 0 && i < size(), "host index {} outside [0, {})", i, size());
  return hosts_[static_cast<size_t>(i)];
}

absl::Status TestHosts::CountStep(const std::string& what) {
  if (++steps_ == fail_at_step_) {
    return absl::InternalError(absl::StrCat("injected failure at step ", steps_, " (", what, ")"));
  }
  return absl::OkStatus();
}

absl::Status TestHosts::Run(const std::vector<std::string>& argv) {
  RETURN_IF_ERROR(CountStep(CommandLine(argv)));
  return RunCommand(argv).status();
}

absl::Status TestHosts::SetUp(const TestHostsOptions& options) {
  fail_at_step_ = options.fail_at_step;
  RETURN_IF_ERROR(CountStep("mkdir " + dir_));
  std::error_code ec;
  std::filesystem::create_directories(dir_ + "/enter", ec);
  if (ec) return absl::InternalError(absl::StrCat("mkdir ", dir_, ": ", ec.message()));
  RETURN_IF_ERROR(CountStep("cgroup " + cgroup_));
  if (absl::Status s = CreateCpuCgroup(cgroup_, 0); !s.ok()) {
    // Cgroups are needed for CPU caps; without caps, hosts work without them (a container
    // may give us namespaces but a read-only /sys/fs/cgroup), and teardown finds processes
    // by network namespace alone, which misses only programs that left the namespace.
    for (const Host& host : hosts_) {
      if (host.spec.cpu_fraction > 0) return s;
    }
    spdlog::info("TestHosts {}: no cgroups ({}); processes are tracked by namespace only", prefix(),
                 std::string(s.message()));
    cgroup_.clear();
    for (Host& host : hosts_) host.cgroup.clear();
  }
  RETURN_IF_ERROR(Run({"ip", "netns", "add", bridge_netns_}));
  RETURN_IF_ERROR(Run({"ip", "-n", bridge_netns_, "link", "add", "br0", "type", "bridge"}));
  RETURN_IF_ERROR(Run({"ip", "-n", bridge_netns_, "link", "set", "br0", "addrgenmode", "none"}));
  RETURN_IF_ERROR(Run({"ip", "-n", bridge_netns_, "link", "set", "br0", "up"}));
  for (const Host& host : hosts_) RETURN_IF_ERROR(SetUpHost(host));
  return WriteFiles();
}

absl::Status TestHosts::SetUpHost(const Host& host) {
  const std::string& ns = host.netns;
  RETURN_IF_ERROR(Run({"ip", "netns", "add", ns}));
  RETURN_IF_ERROR(Run({"ip", "-n", ns, "link", "set", "lo", "up"}));
  // The pair is made inside the host's namespace with its peer placed straight into the
  // bridge's: no end ever shows up in the machine's own namespace.
  RETURN_IF_ERROR(Run({"ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name",
                       host.bridge_port, "netns", bridge_netns_}));
  // No IPv6 link-local addresses (addrgenmode none, before the links come up): the only
  // address a host has is its 198.18.0.0/15 one, and no router solicitations or duplicate
  // address probes cross the bridge.
  RETURN_IF_ERROR(
      Run({"ip", "-n", bridge_netns_, "link", "set", host.bridge_port, "addrgenmode", "none"}));
  RETURN_IF_ERROR(
      Run({"ip", "-n", bridge_netns_, "link", "set", host.bridge_port, "master", "br0", "up"}));
  RETURN_IF_ERROR(Run({"ip", "-n", ns, "link", "set", "eth0", "addrgenmode", "none"}));
  RETURN_IF_ERROR(Run({"ip", "-n", ns, "addr", "add", host.address + "/24", "dev", "eth0"}));
  RETURN_IF_ERROR(Run({"ip", "-n", ns, "link", "set", "eth0", "up"}));
  if (host.spec.link_mbit > 0) {
    // A qdisc shapes what leaves an interface, so one on each end: inside the host for what
    // the host sends, on the bridge port for what it receives.
    const std::vector<std::string> tbf = TbfArgs(host.spec.link_mbit);
    std::vector<std::string> out = {"tc", "-n", ns, "qdisc", "add", "dev", "eth0", "root"};
    std::vector<std::string> in = {"tc",  "-n",  bridge_netns_,    "qdisc",
                                   "add", "dev", host.bridge_port, "root"};
    out.insert(out.end(), tbf.begin(), tbf.end());
    in.insert(in.end(), tbf.begin(), tbf.end());
    RETURN_IF_ERROR(Run(out));
    RETURN_IF_ERROR(Run(in));
  }
  if (host.cgroup.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(CountStep("cgroup " + host.cgroup));
  return CreateCpuCgroup(host.cgroup, host.spec.cpu_fraction);
}

absl::Status TestHosts::WriteFiles() {
  std::string hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  std::string table = "# name host-name address netns cgroup\n";
  for (const Host& host : hosts_) {
    const std::string& name = host.spec.name;
    const std::string& host_name = host.spec.host_name;
    absl::StrAppend(&hosts, host.address, "\t", name,
                    host_name == name ? "" : absl::StrCat(" ", host_name), "\n");
    absl::StrAppend(&table, name, " ", host_name, " ", host.address, " ", host.netns, " ",
                    host.cgroup.empty() ? "-" : host.cgroup, "\n");
  }
  RETURN_IF_ERROR(CountStep("write " + dir_ + "/hosts"));
  RETURN_IF_ERROR(WriteTextFile(dir_ + "/hosts", hosts, false));
  RETURN_IF_ERROR(WriteTextFile(dir_ + "/netns", table, false));

  for (const Host& host : hosts_) {
    std::string script =
        absl::StrCat("#!/bin/sh\n# Runs its arguments inside test host ", host.spec.name, " of ",
                     prefix(), " (written by cosched::testing::TestHosts).\n");
    // The cgroup first, so that every process of the program, wrappers included, is in it.
    if (!host.cgroup.empty()) {
      absl::StrAppend(&script, "echo $$ > ", ShellQuote(host.cgroup + "/cgroup.procs"),
                      " || exit 126\n");
    }
    absl::StrAppend(&script, "export ", kHostsDirEnv, "=", ShellQuote(dir_), "\n");
    // unshare gives the program its hostname and a private mount namespace in which the
    // instance's hosts file is /etc/hosts, so names resolve without touching the machine's
    // /etc. nsenter, not `ip netns exec`: the latter remounts /sys for the namespace, which
    // hides /sys/fs/cgroup, and then a host could not start a program in another host (as
    // mpirun does through netns-rsh).
    absl::StrAppend(&script,
                    "exec unshare --uts --mount sh -c 'hostname \"$1\" && "
                    "mount --bind \"$2\" /etc/hosts && ns=$3 && shift 3 && "
                    "exec nsenter --net=\"$ns\" -- \"$@\"' enter ",
                    ShellQuote(host.spec.host_name), " ", ShellQuote(dir_ + "/hosts"), " ",
                    ShellQuote("/run/netns/" + host.netns), " \"$@\"\n");
    const std::string path = absl::StrCat(dir_, "/enter/", host.spec.name);
    RETURN_IF_ERROR(CountStep("write " + path));
    RETURN_IF_ERROR(WriteTextFile(path, script, true));
    // The same script under the other names Open MPI may use for the host.
    for (const std::string& alias : {host.spec.host_name, host.address}) {
      if (alias == host.spec.name) continue;
      std::error_code ec;
      std::filesystem::create_symlink(host.spec.name, absl::StrCat(dir_, "/enter/", alias), ec);
      if (ec) return absl::InternalError(absl::StrCat("symlink ", alias, ": ", ec.message()));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> TestHosts::Wrap(int i, const std::vector<std::string>& argv) const {
  std::vector<std::string> wrapped = {absl::StrCat(dir_, "/enter/", name(i))};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

absl::StatusOr<std::unique_ptr<Subprocess>> TestHosts::Spawn(int i,
                                                             const std::vector<std::string>& argv,
                                                             std::vector<std::string> extra_env,
                                                             bool capture_stdout) const {
  Subprocess::Options options;
  options.capture_stdout = capture_stdout;
  options.extra_env = std::move(extra_env);
  return Subprocess::Spawn(Wrap(i, argv), options);
}

absl::StatusOr<int> TestHosts::OpenSocket(int i, int type) const {
  // setns moves only the calling thread, and a socket stays in the namespace it was created
  // in; a short-lived thread makes the socket so this thread never leaves its namespace.
  const std::string path = absl::StrCat("/run/netns/", netns(i));
  absl::StatusOr<int> result = absl::InternalError("not run");
  std::thread maker([&] {
    const int ns = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
      result = absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
      return;
    }
    const int rc = ::setns(ns, CLONE_NEWNET);
    const int setns_errno = errno;
    ::close(ns);
    if (rc != 0) {
      result = absl::InternalError(absl::StrCat("setns ", path, ": ", std::strerror(setns_errno)));
      return;
    }
    const int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      result = absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
    } else {
      result = fd;
    }
  });
  maker.join();
  return result;
}

absl::StatusOr<int> TestHosts::ConnectTcp(int i, const std::string& address) const {
  const size_t colon = address.rfind(':');
  int port = 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port <= 0 || port > 65535 ||
      ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("'", address, "' is not IPv4:PORT"));
  }
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ASSIGN_OR_RETURN(const int fd, OpenSocket(i, SOCK_STREAM));
  const timeval timeout{5, 0};  // bounds connect() too
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int error = errno;
    ::close(fd);
    return absl::UnavailableError(
        absl::StrCat("connect to ", address, " from host ", name(i), ": ", std::strerror(error)));
  }
  return fd;
}

std::vector<std::string> TestHosts::MpirunArgv(const std::vector<std::string>& ranks_on,
                                               const std::string& rsh_agent) const {
  return {"mpirun",
          "--allow-run-as-root",
          "--host",
          absl::StrJoin(ranks_on, ","),
          "-np",
          absl::StrCat(ranks_on.size()),
          "--bind-to",
          "none",
          "--mca",
          "plm_rsh_agent",
          rsh_agent,
          "--mca",
          "plm_rsh_no_tree_spawn",
          "1",
          "--mca",
          "oob_tcp_if_include",
          subnet(),
          "--mca",
          "btl_tcp_if_include",
          subnet(),
          "--mca",
          "btl",
          "tcp,self",
          "--mca",
          "pml",
          "ob1"};
}

}  // namespace cosched::testing
