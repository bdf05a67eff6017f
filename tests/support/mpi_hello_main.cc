// File: tests/support/mpi_hello_main.cc
// cosched-test-mpi-hello: the smallest MPI program that proves ranks on emulated hosts
// (test_hosts.h) can talk. Each rank allreduces rank + 1 and prints one JSON line:
//   {"rank":0,"size":2,"host":"h0","addresses":["198.18.37.1"],"sum":3}
// `addresses` are the IPv4 addresses of the rank's non-loopback interfaces, so a test can tell
// which host a rank ran on; sum == size * (size + 1) / 2 shows the ranks communicated.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <mpi.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace {

std::string Ipv4Addresses() {
  std::string out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (const ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != AF_INET) continue;
    if ((it->ifa_flags & IFF_LOOPBACK) != 0) continue;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(it->ifa_addr)->sin_addr, text,
                sizeof(text));
    out += (out.empty() ? "\"" : ",\"") + std::string(text) + "\"";
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  int size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  int mine = rank + 1;
  int sum = 0;
  MPI_Allreduce(&mine, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  std::printf("{\"rank\":%d,\"size\":%d,\"host\":\"%s\",\"addresses\":[%s],\"sum\":%d}\n", rank,
              size, host, Ipv4Addresses().c_str(), sum);
  std::fflush(stdout);
  MPI_Finalize();
  return 0;
}
