// File: common/tls/authorizer.h
// Authorizer: who is calling a gRPC method, and whether they may. A caller is identified by
// the certificate it presented in the TLS handshake, verified here on every call against the
// TrustStore (the CA and CRL files; verdicts are cached), or, for a client without one, by a
// bearer token looked up in the scheduler's token file (read again when it changes). The
// handshake itself accepts any certificate: a refused one is refused per call, with the
// reason (expired, revoked, another CA) in the caller's error and the log. Services ask for
// what a method needs: a node (and which), or a client with at least some role.
//
// Without TLS (--insecure) nothing can be checked: every caller is let through, a node as
// whatever it claims and a client as the admin "anonymous".
//
// Thread-safe.
#pragma once

#include <grpcpp/server_context.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/mutex.h"
#include "common/posix_io.h"
#include "common/tls/identity.h"
#include "common/tls/token_file.h"
#include "common/tls/trust_store.h"

namespace cosched::tls {

class Authorizer {
 public:
  // `trust` is null exactly for a server started with --insecure. `tokens_file` may be empty:
  // clients then need certificates.
  Authorizer(std::shared_ptr<TrustStore> trust, std::string tokens_file)
      : trust_(std::move(trust)), tokens_file_(std::move(tokens_file)) {}
  Authorizer(const Authorizer&) = delete;
  Authorizer& operator=(const Authorizer&) = delete;

  bool secure() const { return trust_ != nullptr; }

  // The caller's identity: its certificate's, else its token's. UNAUTHENTICATED when it has
  // neither (or a token that is not in the file).
  absl::StatusOr<Identity> Authenticate(const grpc::ServerContextBase& context)
      ABSL_LOCKS_EXCLUDED(mu_);
  // A client with `minimum` or a stronger role; PERMISSION_DENIED names what was missing.
  absl::StatusOr<Identity> RequireClient(const grpc::ServerContextBase& context, Role minimum,
                                         absl::string_view action) ABSL_LOCKS_EXCLUDED(mu_);
  // A node. Insecure: an identity of kind kNone, which the caller cannot check against.
  absl::StatusOr<Identity> RequireNode(const grpc::ServerContextBase& context,
                                       absl::string_view action) ABSL_LOCKS_EXCLUDED(mu_);
  // The node `node_id` itself (a node may act only as itself); PERMISSION_DENIED names the
  // node the certificate is for. Insecure: lets anyone through.
  absl::Status RequireNodeNamed(const grpc::ServerContextBase& context, absl::string_view node_id,
                                absl::string_view action) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  absl::StatusOr<Identity> FromToken(absl::string_view token) ABSL_LOCKS_EXCLUDED(mu_);

  const std::shared_ptr<TrustStore> trust_;
  const std::string tokens_file_;
  Mutex mu_;
  std::optional<TokenTable> tokens_ ABSL_GUARDED_BY(mu_);
  bool tokens_read_ ABSL_GUARDED_BY(mu_) = false;
  FileVersion tokens_version_ ABSL_GUARDED_BY(mu_);  // the token file's when last read
  absl::Status tokens_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cosched::tls
