// File: common/tls/cert_authority.h
// A development certificate authority (what `coschedctl certs` runs): creates a CA, issues
// the scheduler's, the nodes' and the clients' certificates with their identity URI
// (identity.h) as a subject alternative name, and revokes them through a CRL. Keys are ECDSA
// P-256: quick to generate and accepted by every TLS stack gRPC uses. Files are PEM; each is
// replaced atomically (a temporary file renamed over it), so a process that reloads a
// certificate when it changes never reads half of one; that is how rotation works: issue
// again and the running processes pick the new files up.
//
// Plain functions of their arguments (OpenSSL 3 keeps its state per thread); safe from any
// thread, though two calls writing the same files race like any two writers.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/tls/identity.h"

namespace cosched::tls {

struct CertificateRequest {
  Identity identity;
  std::vector<std::string> dns_names;     // "localhost", "sched.example.org"
  std::vector<std::string> ip_addresses;  // "127.0.0.1", "::1"
  absl::Time not_before;
  absl::Time not_after;
};

// What `coschedctl certs list` shows of a certificate.
struct CertificateInfo {
  std::string common_name;
  std::vector<std::string> uris;  // every URI SAN, cosched:// or not
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  std::string serial_hex;  // lower case, as IssueCertificate returns it
  absl::Time not_before;
  absl::Time not_after;
  bool is_ca = false;
};

// Writes a new key to `key_path` (mode 0600) and a self-signed CA certificate for it to
// `cert_path` (0644), replacing both. `common_name` has 1 to 64 characters.
absl::Status CreateCa(const std::string& cert_path, const std::string& key_path,
                      absl::string_view common_name, absl::Time not_before, absl::Time not_after);

// Writes a new key to `key_path` (0600), then the certificate the CA signs for it to
// `cert_path` (0644), replacing both; returns the certificate's serial in lower-case hex. The
// certificate serves both ends of a connection (serverAuth and clientAuth): the scheduler
// and the nodes each dial and accept. A reader that finds the key and the certificate
// mismatched caught the moment between the two renames and should read both again.
absl::StatusOr<std::string> IssueCertificate(const std::string& ca_cert_path,
                                             const std::string& ca_key_path,
                                             const CertificateRequest& request,
                                             const std::string& cert_path,
                                             const std::string& key_path);

// Adds the serial of the certificate in `cert_path`, which the CA must have issued, to the
// CRL in `crl_path` (created when missing; entries already there are kept, a serial already
// there keeps its first revocation date), re-signed with the next CRL number and valid for 30
// days from now.
absl::Status RevokeCertificate(const std::string& ca_cert_path, const std::string& ca_key_path,
                               const std::string& cert_path, const std::string& crl_path);

// The certificate in `path`, summarised.
absl::StatusOr<CertificateInfo> ReadCertificate(const std::string& path);
// The serials (lower-case hex) listed in the CRL in `crl_path`, in the CRL's order.
absl::StatusOr<std::vector<std::string>> ReadRevokedSerials(const std::string& crl_path);

}  // namespace cosched::tls
