// File: common/tls/authorizer.cc
#include "common/tls/authorizer.h"

#include <grpc/grpc_security_constants.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/posix_io.h"

namespace cosched::tls {

absl::StatusOr<Identity> Authorizer::FromToken(absl::string_view token) {
  MutexLock lock(&mu_);
  if (tokens_file_.empty()) {
    return absl::UnauthenticatedError("this scheduler accepts no tokens: present a certificate");
  }
  const FileVersion version = StatFile(tokens_file_);
  if (!tokens_read_ || !(version == tokens_version_)) {
    tokens_read_ = true;
    tokens_version_ = version;
    absl::StatusOr<TokenTable> table = TokenTable::Load(tokens_file_);
    if (table.ok()) {
      tokens_ = std::move(*table);
      tokens_error_ = absl::OkStatus();
    } else {
      // Keeps the last good table: a half-edited file does not lock every client out.
      tokens_error_ = table.status();
    }
  }
  if (!tokens_.has_value()) {
    return absl::UnavailableError(
        absl::StrCat("the token file cannot be read: ", tokens_error_.message()));
  }
  std::optional<Identity> identity = tokens_->Find(token);
  if (!identity.has_value()) return absl::UnauthenticatedError("the bearer token is not known");
  return *identity;
}

absl::StatusOr<Identity> Authorizer::Authenticate(const grpc::ServerContextBase& context) {
  if (trust_ == nullptr) return ClientIdentity(Role::kAdmin, "anonymous");
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr) {
    const std::vector<grpc::string_ref> pems =
        auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    if (!pems.empty()) {
      const std::vector<grpc::string_ref> chains =
          auth->FindPropertyValues(GRPC_X509_PEM_CERT_CHAIN_PROPERTY_NAME);
      absl::StatusOr<Identity> identity = trust_->Verify(
          absl::string_view(pems.front().data(), pems.front().size()),
          chains.empty() ? absl::string_view()
                         : absl::string_view(chains.front().data(), chains.front().size()),
          PeerEnd::kClient);
      if (!identity.ok()) return absl::UnauthenticatedError(identity.status().message());
      return identity;
    }
  }
  const auto& metadata = context.client_metadata();
  auto header = metadata.find("authorization");
  if (header == metadata.end()) {
    return absl::UnauthenticatedError(
        "no client certificate and no bearer token: this scheduler needs one of them");
  }
  absl::string_view value(header->second.data(), header->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ")) {
    return absl::UnauthenticatedError("the authorization header is not 'Bearer <token>'");
  }
  return FromToken(value);
}

absl::StatusOr<Identity> Authorizer::RequireClient(const grpc::ServerContextBase& context,
                                                   Role minimum, absl::string_view action) {
  absl::StatusOr<Identity> identity = Authenticate(context);
  if (!identity.ok()) return identity;
  if (identity->kind != PeerKind::kClient) {
    return absl::PermissionDeniedError(
        absl::StrCat(Describe(*identity), " may not ", action, ": that is for clients"));
  }
  if (static_cast<int>(identity->role) < static_cast<int>(minimum)) {
    return absl::PermissionDeniedError(absl::StrCat(Describe(*identity), " may not ", action,
                                                    ": that needs the role ", RoleName(minimum),
                                                    " or above"));
  }
  return identity;
}

absl::StatusOr<Identity> Authorizer::RequireNode(const grpc::ServerContextBase& context,
                                                 absl::string_view action) {
  if (trust_ == nullptr) return Identity{};
  absl::StatusOr<Identity> identity = Authenticate(context);
  if (!identity.ok()) return identity;
  if (identity->kind != PeerKind::kNode) {
    return absl::PermissionDeniedError(
        absl::StrCat(Describe(*identity), " may not ", action, ": that needs a node certificate"));
  }
  return identity;
}

absl::Status Authorizer::RequireNodeNamed(const grpc::ServerContextBase& context,
                                          absl::string_view node_id, absl::string_view action) {
  absl::StatusOr<Identity> identity = RequireNode(context, action);
  if (!identity.ok()) return identity.status();
  if (identity->kind == PeerKind::kNode && identity->name != node_id) {
    return absl::PermissionDeniedError(absl::StrCat("the certificate is for ", Describe(*identity),
                                                    ": it may not ", action, " as node ", node_id));
  }
  return absl::OkStatus();
}

}  // namespace cosched::tls
