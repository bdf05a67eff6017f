// File: common/tls/dev_pki.cc
#include "common/tls/dev_pki.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/posix_io.h"
#include "common/tls/cert_authority.h"

namespace cosched::tls {

namespace {

// Clocks of emulated hosts and containers agree with this one; a little slack anyway.
constexpr absl::Duration kBackdate = absl::Minutes(5);
constexpr absl::Duration kValidity = absl::Hours(24 * 365);

}  // namespace

absl::StatusOr<DevelopmentPki> DevelopmentPki::Create(std::string dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::InternalError(absl::StrCat("cannot create the certificate directory '", dir,
                                            "': ", std::strerror(errno)));
  }
  DevelopmentPki pki(std::move(dir));
  const std::string ca = absl::StrCat(pki.dir_, "/ca.pem");
  const std::string ca_key = absl::StrCat(pki.dir_, "/ca-key.pem");
  if (!FileExists(ca)) {
    const absl::Time now = absl::Now();
    if (absl::Status s =
            CreateCa(ca, ca_key, "cosched development CA", now - kBackdate, now + kValidity);
        !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<TlsFlags> scheduler = pki.Issue(SchedulerIdentity(), "scheduler");
  if (!scheduler.ok()) return scheduler.status();
  return pki;
}

absl::StatusOr<TlsFlags> DevelopmentPki::Issue(const Identity& identity,
                                               const std::string& stem) const {
  TlsFlags flags;
  UseCertificateDirectory(dir_, stem, &flags);
  if (FileExists(flags.cert_file) && FileExists(flags.key_file)) return flags;
  CertificateRequest request;
  request.identity = identity;
  if (identity.kind == PeerKind::kScheduler) {
    request.dns_names = {"localhost"};
    request.ip_addresses = {"127.0.0.1"};
  }
  const absl::Time now = absl::Now();
  request.not_before = now - kBackdate;
  request.not_after = now + kValidity;
  absl::StatusOr<std::string> serial = IssueCertificate(
      flags.ca_file, absl::StrCat(dir_, "/ca-key.pem"), request, flags.cert_file, flags.key_file);
  if (!serial.ok()) return serial.status();
  return flags;
}

TlsFlags DevelopmentPki::Scheduler() const {
  TlsFlags flags;
  UseCertificateDirectory(dir_, "scheduler", &flags);
  return flags;
}

absl::StatusOr<TlsFlags> DevelopmentPki::Node(absl::string_view id, absl::string_view kind) const {
  return Issue(NodeIdentity(kind, id), absl::StrCat("node-", id));
}

absl::StatusOr<TlsFlags> DevelopmentPki::Client(absl::string_view name, Role role) const {
  return Issue(ClientIdentity(role, name), absl::StrCat("client-", name));
}

std::vector<std::string> DevelopmentPki::Args(const TlsFlags& flags) {
  if (flags.insecure) return {"--insecure"};
  std::vector<std::string> args = {"--tls-ca", flags.ca_file};
  if (!flags.cert_file.empty()) {
    args.insert(args.end(), {"--tls-cert", flags.cert_file, "--tls-key", flags.key_file});
  }
  if (!flags.crl_file.empty()) args.insert(args.end(), {"--tls-crl", flags.crl_file});
  return args;
}

}  // namespace cosched::tls
