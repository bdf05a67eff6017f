// File: common/tls/trust_store.h
// TrustStore: the certificate authority a process trusts and the certificates it has revoked,
// read from PEM files and read again whenever they change, so that a new CA bundle or a new
// revocation takes effect without a restart. Verifies a peer's certificate chain with
// OpenSSL's X509_verify_cert and says exactly why one is refused ("certificate has expired",
// "certificate revoked"), which a failed TLS handshake does not.
//
// Thread-safe: the TLS stack calls Verify from its own threads.
#pragma once

#include <openssl/types.h>

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "common/posix_io.h"
#include "common/tls/identity.h"

namespace cosched::tls {

// Which end of a connection the certificate being verified belongs to.
enum class PeerEnd { kClient, kServer };

class TrustStore {
 public:
  // `crl_file` may be empty (nothing revoked). Neither file is read until the first Verify.
  TrustStore(std::string ca_file, std::string crl_file);
  ~TrustStore();
  TrustStore(const TrustStore&) = delete;
  TrustStore& operator=(const TrustStore&) = delete;

  // Verifies `leaf_pem` against the CA (with the certificates in `chain_pem` as untrusted
  // intermediates) and the CRL, for use by `end`, and returns the cosched identity among its
  // URI SANs. The error names the certificate (its identity or subject and serial) and why.
  absl::StatusOr<Identity> Verify(absl::string_view leaf_pem, absl::string_view chain_pem,
                                  PeerEnd end) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // X509_verify_cert of `leaf` against store_, and the identity it carries.
  absl::StatusOr<Identity> VerifyLocked(X509* leaf, absl::string_view chain_pem, PeerEnd end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Rebuilds store_ when a file changed since it was built.
  absl::Status Refresh() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // A certificate verified before, while the files stay unchanged and it has not expired:
  // servers verify the caller's certificate on every call (Authorizer).
  struct Verified {
    PeerEnd end = PeerEnd::kClient;  // the purpose it was verified for
    uint64_t store_version = 0;
    absl::Time not_after;
    absl::StatusOr<Identity> result;
  };

  const std::string ca_file_;
  const std::string crl_file_;
  Mutex mu_;
  X509_STORE* store_ ABSL_GUARDED_BY(mu_) = nullptr;
  uint64_t store_version_ ABSL_GUARDED_BY(mu_) = 0;  // bumped when the files are read again
  std::map<std::string, Verified, std::less<>> verified_ ABSL_GUARDED_BY(mu_);
  FileVersion ca_version_ ABSL_GUARDED_BY(mu_);
  FileVersion crl_version_ ABSL_GUARDED_BY(mu_);
  absl::Status load_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cosched::tls
