// File: common/tls/dev_pki.h
// DevelopmentPki: a certificate directory laid out the way `coschedctl certs` writes it (a CA,
// the scheduler's certificate, one per node and client, created on first use), for the
// programs that start a whole cluster themselves: `cosched up`, the end-to-end tests and the
// benchmarks. A production deployment brings its own certificates instead (docs/security.md).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/tls/credentials.h"
#include "common/tls/identity.h"

namespace cosched::tls {

class DevelopmentPki {
 public:
  // Creates `dir` if missing and, unless it already holds them, a CA and the scheduler's
  // certificate, valid for a year.
  static absl::StatusOr<DevelopmentPki> Create(std::string dir);

  const std::string& dir() const { return dir_; }
  // The scheduler's files.
  TlsFlags Scheduler() const;
  // Node `id`'s files, issued now unless they exist.
  absl::StatusOr<TlsFlags> Node(absl::string_view id, absl::string_view kind) const;
  // Client `name`'s files, issued now unless they exist.
  absl::StatusOr<TlsFlags> Client(absl::string_view name, Role role) const;

  // The command-line flags for `flags`: --tls-ca, --tls-cert, --tls-key, --tls-crl (each with
  // its value as the next argument), or --insecure.
  static std::vector<std::string> Args(const TlsFlags& flags);

 private:
  explicit DevelopmentPki(std::string dir) : dir_(std::move(dir)) {}
  absl::StatusOr<TlsFlags> Issue(const Identity& identity, const std::string& stem) const;

  std::string dir_;
};

}  // namespace cosched::tls
