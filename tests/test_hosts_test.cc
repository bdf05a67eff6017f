// File: tests/test_hosts_test.cc
// TestHosts (tests/support/test_hosts.h) against the real kernel: hosts reach each other by
// address and see their own; loopback stays private to a host; a HostTunnel carries this
// process's connections into a host; a shaped link is slowed in both directions; a CPU cap holds a
// busy loop down; programs run with their host's name, address and cgroup; nothing is left after
// the destructor, after a Create that fails at any step, or after an owner that crashed; mpirun in
// one host starts a rank in another through scripts/netns-rsh. Needs root: without it the tests
// skip, saying so (under CI they fail).
#include "tests/support/test_hosts.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/subprocess.h"
#include "nlohmann/json.hpp"
#include "tests/support/host_tunnel.h"
#include "tests/support/run_command.h"
#include "tests/support/scoped_dir.h"
#include "tests/support/test_hosts_instance.h"

namespace cosched::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Closes a socket when the test leaves its scope. Declared after the TestHosts they belong
// to, so they close before the namespaces go.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in Ipv4(const std::string& address, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
  return addr;
}

std::string AddressOf(const sockaddr_in& addr) {
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &addr.sin_addr, text, sizeof(text));
  return text;
}

std::string LocalAddress(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return AddressOf(addr);
}

int LocalPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

std::string PeerAddress(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return AddressOf(addr);
}

// errno of bind(), 0 on success.
int Bind(int fd, const std::string& address, int port) {
  const sockaddr_in addr = Ipv4(address, port);
  return ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0 ? 0 : errno;
}

// errno of connect(), 0 on success.
int Connect(int fd, const std::string& address, int port) {
  const sockaddr_in addr = Ipv4(address, port);
  return ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0 ? 0 : errno;
}

// A bounded wait on every blocking call, so a broken network fails the test instead of
// hanging it.
void SetTimeouts(int fd) {
  const timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// A TCP socket in host `i`, or a failed assertion.
int TcpSocket(const TestHosts& hosts, int i) {
  auto fd = hosts.OpenSocket(i, SOCK_STREAM);
  EXPECT_TRUE(fd.ok()) << fd.status();
  if (!fd.ok()) return -1;
  SetTimeouts(*fd);
  return *fd;
}

// A listening TCP socket bound to `address` port 0 in host `i`.
int Listener(const TestHosts& hosts, int i, const std::string& address) {
  const int fd = TcpSocket(hosts, i);
  EXPECT_EQ(Bind(fd, address, 0), 0) << std::strerror(errno);
  EXPECT_EQ(::listen(fd, 8), 0);
  return fd;
}

// Everything `process` prints until it closes stdout or `deadline`.
std::vector<std::string> ReadLines(Subprocess& process, absl::Time deadline) {
  std::vector<std::string> lines;
  while (true) {
    auto line = process.ReadLine(deadline);
    if (!line.ok()) break;
    lines.push_back(*line);
  }
  return lines;
}

// Runs `argv` in host i and returns its stdout (joined lines) after it exits 0.
std::string RunIn(const TestHosts& hosts, int i, const std::vector<std::string>& argv) {
  auto process = hosts.Spawn(i, argv);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return "";
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  std::string out;
  for (const std::string& line : ReadLines(**process, deadline)) absl::StrAppend(&out, line, "\n");
  auto exit_code = (*process)->Wait(deadline);
  EXPECT_TRUE(exit_code.ok() && *exit_code == 0)
      << CommandLine(argv) << " in " << hosts.name(i) << ": " << exit_code.status() << " "
      << (exit_code.ok() ? *exit_code : -1) << "\n"
      << out;
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// True while `pid` exists and has not exited (a zombie has exited).
bool Running(pid_t pid) {
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

// utime + stime of `pid` in seconds, from /proc/<pid>/stat (fields 14 and 15).
double CpuSeconds(pid_t pid) {
  const std::string stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  const std::vector<std::string> fields =
      absl::StrSplit(stat.substr(stat.rfind(')') + 2), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state), so field n is fields[n - 3].
  if (fields.size() < 13) return -1;
  return (std::stod(fields[11]) + std::stod(fields[12])) / ::sysconf(_SC_CLK_TCK);
}

// The instance prefix named in a Create error ("TestHosts csh37: ...").
std::string PrefixIn(const std::string& message) {
  std::smatch match;
  return std::regex_search(message, match, std::regex("csh[0-9]+")) ? match.str() : "";
}

class TestHostsTest : public ::testing::Test {
 protected:
  void SetUp() override { COSCHED_REQUIRE_TEST_HOSTS(); }
};

std::unique_ptr<TestHosts> MustCreate(std::vector<HostSpec> specs) {
  auto hosts = TestHosts::Create(std::move(specs));
  EXPECT_TRUE(hosts.ok()) << hosts.status();
  return hosts.ok() ? std::move(*hosts) : nullptr;
}

TEST_F(TestHostsTest, HostsReachEachOtherByAddressAndSeeTheirOwn) {
  auto hosts = MustCreate({{.name = "h0"}, {.name = "h1"}});
  ASSERT_NE(hosts, nullptr);
  EXPECT_THAT(hosts->subnet(), ::testing::MatchesRegex("198\\.1[89]\\.[0-9]+\\.0/24"));
  EXPECT_NE(hosts->address(0), hosts->address(1));
  for (const auto& [from, to] : std::vector<std::pair<int, int>>{{0, 1}, {1, 0}}) {
    SCOPED_TRACE(absl::StrCat(hosts->name(from), " -> ", hosts->name(to)));
    Fd listener(Listener(*hosts, to, hosts->address(to)));
    Fd client(TcpSocket(*hosts, from));
    ASSERT_EQ(Connect(client.get(), hosts->address(to), LocalPort(listener.get())), 0)
        << std::strerror(errno);
    Fd accepted(::accept(listener.get(), nullptr, nullptr));
    ASSERT_GE(accepted.get(), 0) << std::strerror(errno);
    EXPECT_EQ(LocalAddress(client.get()), hosts->address(from));
    EXPECT_EQ(PeerAddress(accepted.get()), hosts->address(from));
    EXPECT_EQ(LocalAddress(accepted.get()), hosts->address(to));
    ASSERT_EQ(::send(client.get(), "ping", 4, MSG_NOSIGNAL), 4);
    char buf[4] = {};
    ASSERT_EQ(::recv(accepted.get(), buf, 4, MSG_WAITALL), 4);
    EXPECT_EQ(std::string(buf, 4), "ping");
  }
  // An address belongs to its host only.
  Fd stranger(TcpSocket(*hosts, 0));
  EXPECT_EQ(Bind(stranger.get(), hosts->address(1), 0), EADDRNOTAVAIL);
}

std::string MachineHostname() {
  char name[256] = {};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

TEST_F(TestHostsTest, ProgramsRunInsideTheirHost) {
  const std::string machine = MachineHostname();
  auto hosts =
      MustCreate({{.name = "h0"}, {.name = "h1", .cpu_fraction = 0.5, .host_name = "node-one"}});
  ASSERT_NE(hosts, nullptr);
  for (int i = 0; i < hosts->size(); ++i) {
    SCOPED_TRACE(hosts->name(i));
    EXPECT_EQ(RunIn(*hosts, i, {"hostname"}), hosts->host_name(i) + "\n");
    // Its own address and loopback, nothing else (no IPv6 link-local either).
    std::set<std::string> addresses;
    for (const absl::string_view line :
         absl::StrSplit(RunIn(*hosts, i, {"ip", "-o", "addr", "show"}), '\n', absl::SkipEmpty())) {
      const std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipWhitespace());
      if (words.size() > 3) addresses.insert(words[3]);
    }
    EXPECT_EQ(addresses,
              (std::set<std::string>{"127.0.0.1/8", "::1/128", hosts->address(i) + "/24"}));
    // Every host's names resolve inside every host.
    EXPECT_THAT(RunIn(*hosts, i, {"getent", "hosts", "node-one"}), HasSubstr(hosts->address(1)));
    EXPECT_THAT(RunIn(*hosts, i, {"getent", "hosts", "h0"}), HasSubstr(hosts->address(0)));
    // The wrapper leaves the program in the host's cgroup (/proc/self/cgroup shows its path
    // below the hierarchy's root).
    const std::string relative = hosts->cgroup(i).substr(hosts->cgroup(i).find(hosts->prefix()));
    EXPECT_THAT(RunIn(*hosts, i, {"cat", "/proc/self/cgroup"}), HasSubstr("/" + relative));
    EXPECT_EQ(RunIn(*hosts, i, {"sh", "-c", absl::StrCat("echo $", kHostsDirEnv)}),
              hosts->dir() + "\n");
  }
  // The machine's hostname and /etc/hosts are untouched.
  EXPECT_EQ(MachineHostname(), machine);
  EXPECT_THAT(ReadFile("/etc/hosts"), Not(HasSubstr("node-one")));
}

TEST_F(TestHostsTest, LoopbackIsPrivateToEachHost) {
  auto hosts = MustCreate({{.name = "h0"}, {.name = "h1"}});
  ASSERT_NE(hosts, nullptr);
  Fd listener(Listener(*hosts, 0, "127.0.0.1"));
  const int port = LocalPort(listener.get());
  Fd same_host(TcpSocket(*hosts, 0));
  EXPECT_EQ(Connect(same_host.get(), "127.0.0.1", port), 0) << "loopback inside a host";
  Fd other_host(TcpSocket(*hosts, 1));
  EXPECT_EQ(Connect(other_host.get(), "127.0.0.1", port), ECONNREFUSED);
  Fd by_address(TcpSocket(*hosts, 1));
  EXPECT_EQ(Connect(by_address.get(), hosts->address(0), port), ECONNREFUSED);

  // Nor does a host see the machine's loopback, or any network beyond the bridge.
  Fd machine(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_EQ(Bind(machine.get(), "127.0.0.1", 0), 0);
  ASSERT_EQ(::listen(machine.get(), 1), 0);
  Fd to_machine(TcpSocket(*hosts, 1));
  EXPECT_EQ(Connect(to_machine.get(), "127.0.0.1", LocalPort(machine.get())), ECONNREFUSED);
  Fd outside(TcpSocket(*hosts, 1));
  EXPECT_EQ(Connect(outside.get(), "192.0.2.1", 9), ENETUNREACH);  // TEST-NET-1
}

TEST_F(TestHostsTest, TunnelCarriesConnectionsIntoAHost) {
  auto hosts = MustCreate({{.name = "h0"}});
  ASSERT_NE(hosts, nullptr);
  auto listener = std::make_unique<Fd>(Listener(*hosts, 0, hosts->address(0)));
  const std::string target = absl::StrCat(hosts->address(0), ":", LocalPort(listener->get()));
  auto tunnel = HostTunnel::Open(*hosts, 0, target);
  ASSERT_TRUE(tunnel.ok()) << tunnel.status();
  EXPECT_THAT((*tunnel)->address(), ::testing::StartsWith("127.0.0.1:"));
  const int tunnel_port = std::stoi((*tunnel)->address().substr(10));

  // Both ways, more than any socket buffer holds, and each end of stream passed on: the
  // server in the host echoes until the client is done, then closes its side.
  Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  SetTimeouts(client.get());
  ASSERT_EQ(Connect(client.get(), "127.0.0.1", tunnel_port), 0) << std::strerror(errno);
  Fd accepted(::accept(listener->get(), nullptr, nullptr));
  ASSERT_GE(accepted.get(), 0) << std::strerror(errno);
  EXPECT_EQ(PeerAddress(accepted.get()), hosts->address(0)) << "made inside the host";
  SetTimeouts(accepted.get());
  std::thread echo([&] {
    char buf[16 << 10];
    ssize_t n;
    while ((n = ::recv(accepted.get(), buf, sizeof(buf), 0)) > 0) {
      if (::send(accepted.get(), buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
    }
    ::shutdown(accepted.get(), SHUT_WR);
  });
  std::string sent(4 << 20, '\0');
  for (size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>(i * 7919 % 251);
  std::thread send_all([&] {
    for (size_t done = 0; done < sent.size();) {
      const ssize_t n = ::send(client.get(), sent.data() + done, sent.size() - done, MSG_NOSIGNAL);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::shutdown(client.get(), SHUT_WR);
  });
  std::string received;
  char buf[64 << 10];
  ssize_t n;
  while ((n = ::recv(client.get(), buf, sizeof(buf), 0)) > 0) received.append(buf, n);
  EXPECT_EQ(n, 0) << "no end of stream from the server: " << std::strerror(errno);
  send_all.join();
  echo.join();
  EXPECT_EQ(received.size(), sent.size());
  EXPECT_TRUE(received == sent) << "the bytes came back changed";

  // Nothing listens there any more: the tunnel closes the connection it accepted.
  listener.reset();
  Fd refused(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  SetTimeouts(refused.get());
  ASSERT_EQ(Connect(refused.get(), "127.0.0.1", tunnel_port), 0) << std::strerror(errno);
  EXPECT_LE(::recv(refused.get(), buf, sizeof(buf), 0), 0);
}

// Seconds to move `bytes` over TCP from host `from` to host `to`, measured by the receiver.
double TransferSeconds(const TestHosts& hosts, int from, int to, size_t bytes) {
  Fd listener(Listener(hosts, to, hosts.address(to)));
  Fd sender(TcpSocket(hosts, from));
  const int port = LocalPort(listener.get());
  const absl::Time start = absl::Now();
  std::thread send_all([&] {
    if (Connect(sender.get(), hosts.address(to), port) != 0) return;
    const std::string chunk(64 << 10, 'x');
    for (size_t sent = 0; sent < bytes;) {
      const ssize_t n =
          ::send(sender.get(), chunk.data(), std::min(chunk.size(), bytes - sent), MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    ::shutdown(sender.get(), SHUT_WR);
  });
  size_t received = 0;
  Fd accepted(::accept(listener.get(), nullptr, nullptr));
  if (accepted.get() >= 0) {
    SetTimeouts(accepted.get());
    char buf[64 << 10];
    ssize_t n;
    while ((n = ::recv(accepted.get(), buf, sizeof(buf), 0)) > 0) received += n;
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  send_all.join();
  EXPECT_EQ(received, bytes);
  return seconds;
}

TEST_F(TestHostsTest, ShapedLinkIsSlowInBothDirections) {
  constexpr double kMbit = 20;
  constexpr size_t kBytes = 2'500'000;  // 1 s at 20 Mbit/s
  auto hosts = MustCreate({{.name = "h0", .link_mbit = kMbit}, {.name = "h1"}});
  ASSERT_NE(hosts, nullptr);
  const double expected = kBytes * 8 / (kMbit * 1e6);
  // h0 -> h1 passes the qdisc inside h0; h1 -> h0 the one on h0's bridge port.
  for (const auto& [from, to] : std::vector<std::pair<int, int>>{{0, 1}, {1, 0}}) {
    const double seconds = TransferSeconds(*hosts, from, to, kBytes);
    // Correctness of the shaping, not a performance claim: well above what an unshaped veth
    // does (milliseconds), and not slower by a unit mistake (kbit for mbit would be 1000x).
    EXPECT_GT(seconds, 0.5 * expected) << hosts->name(from) << " -> " << hosts->name(to);
    EXPECT_LT(seconds, 10 * expected) << hosts->name(from) << " -> " << hosts->name(to);
  }
}

TEST_F(TestHostsTest, CpuCapHoldsABusyLoopDown) {
  auto hosts = MustCreate({{.name = "h0", .cpu_fraction = 0.25}});
  ASSERT_NE(hosts, nullptr);
  auto busy = hosts->Spawn(0, {"sh", "-c", "while :; do :; done"}, {}, /*capture_stdout=*/false);
  ASSERT_TRUE(busy.ok()) << busy.status();
  const pid_t pid = (*busy)->pid();
  // The wrappers exec one another in this pid; measure once the loop itself runs.
  const absl::Time ready_by = absl::Now() + absl::Seconds(10);
  while (ReadFile(absl::StrCat("/proc/", pid, "/cmdline")).find("while") == std::string::npos) {
    ASSERT_LT(absl::Now(), ready_by) << "the busy loop did not start";
    absl::SleepFor(absl::Milliseconds(5));
  }
  const absl::Time wall0 = absl::Now();
  const double cpu0 = CpuSeconds(pid);
  absl::SleepFor(absl::Seconds(1));  // the measurement window, not a wait for an event
  const double cpu1 = CpuSeconds(pid);
  const double share = (cpu1 - cpu0) / absl::ToDoubleSeconds(absl::Now() - wall0);
  EXPECT_LT(share, 0.5) << "a quarter-core cap let the loop use " << share << " of a core";
  EXPECT_GT(share, 0.05) << "the loop hardly ran";
}

TEST_F(TestHostsTest, DestructorRemovesEverything) {
  auto hosts = MustCreate(
      {{.name = "h0", .link_mbit = 100, .cpu_fraction = 0.5}, {.name = "h1", .link_mbit = 100}});
  ASSERT_NE(hosts, nullptr);
  const std::string prefix = hosts->prefix();
  EXPECT_THAT(FindInstanceState(prefix), Not(IsEmpty()));
  // A program still running, and a daemon that left our process tree (as orted does).
  auto running = hosts->Spawn(0, {"sleep", "600"}, {}, false);
  ASSERT_TRUE(running.ok()) << running.status();
  auto daemonizer = hosts->Spawn(1, {"sh", "-c", "(sleep 600 >/dev/null & echo $!)"});
  ASSERT_TRUE(daemonizer.ok()) << daemonizer.status();
  auto daemon_line = (*daemonizer)->ReadLine(absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(daemon_line.ok()) << daemon_line.status();
  const pid_t daemon = std::stoi(*daemon_line);
  ASSERT_EQ(*(*daemonizer)->Wait(absl::Now() + absl::Seconds(10)), 0);
  ASSERT_TRUE(Running(daemon));

  hosts.reset();

  EXPECT_THAT(FindInstanceState(prefix), IsEmpty());
  // The same, asked the way a person would (other instances may be running: exact names).
  const std::string namespaces = *RunCommand({"ip", "netns", "list"});
  for (const absl::string_view line : absl::StrSplit(namespaces, '\n')) {
    const std::string ns(line.substr(0, line.find(' ')));
    EXPECT_TRUE(ns != prefix && !absl::StartsWith(ns, prefix + "-")) << ns;
  }
  EXPECT_THAT(*RunCommand({"ip", "-o", "link"}), Not(HasSubstr(" " + prefix + "-")));
  EXPECT_FALSE(Running(daemon));
  EXPECT_EQ(*(*running)->Wait(absl::Now() + absl::Seconds(5)), 128 + SIGKILL);
}

TEST_F(TestHostsTest, CreateThatFailsAtAnyStepLeavesNothing) {
  const std::vector<HostSpec> specs = {{.name = "h0", .link_mbit = 50, .cpu_fraction = 0.5},
                                       {.name = "h1", .host_name = "other"}};
  int failures = 0;
  for (int step = 1;; ++step) {
    auto hosts = TestHosts::Create(specs, {.fail_at_step = step});
    if (hosts.ok()) break;  // past the last step
    ++failures;
    const std::string message(hosts.status().message());
    EXPECT_THAT(message, HasSubstr(absl::StrCat("injected failure at step ", step)));
    const std::string prefix = PrefixIn(message);
    ASSERT_NE(prefix, "") << message;
    EXPECT_THAT(FindInstanceState(prefix), IsEmpty()) << "after a failure at step " << step;
    ASSERT_LT(step, 100) << "Create never got past the injected failures";
  }
  EXPECT_GT(failures, 20) << "every setup step should be a failure point";
}

TEST_F(TestHostsTest, FailingCommandIsNamedWithItsOutput) {
  // A `tc` that fails the way the real one does, first in PATH for the length of the test.
  ScopedDir bin("fake_tc");
  {
    std::ofstream tc(bin.path() + "/tc");
    tc << "#!/bin/sh\necho 'RTNETLINK answers: fake refusal' >&2\nexit 2\n";
  }
  ASSERT_EQ(::chmod((bin.path() + "/tc").c_str(), 0755), 0);
  const std::string path = ::getenv("PATH") == nullptr ? "" : ::getenv("PATH");
  ::setenv("PATH", (bin.path() + ":" + path).c_str(), 1);
  auto hosts = TestHosts::Create({{.name = "h0", .link_mbit = 10}});
  ::setenv("PATH", path.c_str(), 1);

  ASSERT_FALSE(hosts.ok());
  const std::string message(hosts.status().message());
  EXPECT_THAT(message, HasSubstr("`tc -n "));
  EXPECT_THAT(message, HasSubstr("exited with 2: RTNETLINK answers: fake refusal"));
  const std::string prefix = PrefixIn(message);
  ASSERT_NE(prefix, "") << message;
  EXPECT_THAT(FindInstanceState(prefix), IsEmpty());
}

TEST_F(TestHostsTest, LeftoversOfACrashedOwnerAreRemoved) {
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The "crashed" owner: sets up hosts with a program running, then dies without cleaning.
    ::close(report[0]);
    auto hosts = TestHosts::Create({{.name = "h0", .cpu_fraction = 0.5}, {.name = "h1"}});
    if (!hosts.ok()) ::_exit(1);
    auto sleeper = (*hosts)->Spawn(1, {"sleep", "600"}, {}, false);
    if (!sleeper.ok()) ::_exit(2);
    const std::string line = absl::StrCat((*hosts)->prefix(), " ", (*sleeper)->pid(), "\n");
    if (::write(report[1], line.data(), line.size()) < 0) ::_exit(3);
    ::_exit(0);  // no destructors
  }
  ::close(report[1]);
  char buf[128] = {};
  const ssize_t n = ::read(report[0], buf, sizeof(buf) - 1);
  ::close(report[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  ASSERT_GT(n, 0);
  const std::vector<std::string> words = absl::StrSplit(std::string(buf, n - 1), ' ');
  ASSERT_EQ(words.size(), 2u) << buf;
  const std::string prefix = words[0];
  const pid_t sleeper = std::stoi(words[1]);

  // Another test process may sweep first (ctest -j); either way nothing may be left.
  const absl::Status swept = RemoveStaleInstances();
  EXPECT_TRUE(swept.ok()) << swept;
  EXPECT_THAT(FindInstanceState(prefix), IsEmpty());
  EXPECT_FALSE(Running(sleeper));
}

TEST_F(TestHostsTest, InstancesAtTheSameTimeDoNotCollide) {
  auto a = MustCreate({{.name = "h0"}});
  auto b = MustCreate({{.name = "h0"}});
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a->prefix(), b->prefix());
  EXPECT_NE(a->subnet(), b->subnet());
  EXPECT_NE(a->netns(0), b->netns(0));
  EXPECT_NE(a->dir(), b->dir());
}

TEST_F(TestHostsTest, BadSpecsAreRefusedNamingTheHost) {
  auto duplicate = TestHosts::Create({{.name = "h0"}, {.name = "h0"}});
  EXPECT_TRUE(absl::IsInvalidArgument(duplicate.status())) << duplicate.status();
  EXPECT_THAT(duplicate.status().message(), HasSubstr("host 1"));
  auto bad_name = TestHosts::Create({{.name = "h 0"}});
  EXPECT_TRUE(absl::IsInvalidArgument(bad_name.status())) << bad_name.status();
  auto bad_rate = TestHosts::Create({{.name = "h0", .link_mbit = -1}});
  EXPECT_THAT(bad_rate.status().message(), HasSubstr("link_mbit"));
  auto none = TestHosts::Create({});
  EXPECT_TRUE(absl::IsInvalidArgument(none.status())) << none.status();
}

#ifdef COSCHED_MPI_HELLO_BINARY
TEST_F(TestHostsTest, MpirunInOneHostStartsARankInAnother) {
  auto hosts = MustCreate({{.name = "h0"}, {.name = "h1"}});
  ASSERT_NE(hosts, nullptr);
  std::vector<std::string> argv = hosts->MpirunArgv({"h0", "h1"}, COSCHED_NETNS_RSH);
  argv.push_back(COSCHED_MPI_HELLO_BINARY);
  auto mpirun = hosts->Spawn(0, argv);
  ASSERT_TRUE(mpirun.ok()) << mpirun.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  std::map<int, nlohmann::json> by_rank;
  for (const std::string& line : ReadLines(**mpirun, deadline)) {
    const nlohmann::json report = nlohmann::json::parse(line, nullptr, false);
    if (report.is_object()) by_rank[report.value("rank", -1)] = report;
  }
  EXPECT_EQ(*(*mpirun)->Wait(deadline), 0);
  ASSERT_EQ(by_rank.size(), 2u);
  for (int rank = 0; rank < 2; ++rank) {
    const nlohmann::json& report = by_rank[rank];
    EXPECT_EQ(report.value("size", 0), 2);
    EXPECT_EQ(report.value("sum", 0), 3) << "the allreduce did not see both ranks";
    EXPECT_EQ(report.value("host", ""), hosts->name(rank));
    EXPECT_EQ(report["addresses"], nlohmann::json::array({hosts->address(rank)}));
  }
}
#endif

}  // namespace
}  // namespace cosched::testing
