// File: common/tls/identity.cc
#include "common/tls/identity.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace cosched::tls {

namespace {
constexpr absl::string_view kScheme = "cosched://";
}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kRead:
      return "read";
    case Role::kSubmit:
      return "submit";
    case Role::kAdmin:
      return "admin";
  }
  return "read";
}

absl::StatusOr<Role> ParseRole(absl::string_view text) {
  if (text == "read") return Role::kRead;
  if (text == "submit") return Role::kSubmit;
  if (text == "admin") return Role::kAdmin;
  return absl::InvalidArgumentError(
      absl::StrCat("role '", text, "' is none of read, submit, admin"));
}

Identity SchedulerIdentity() { return Identity{PeerKind::kScheduler, "", "", Role::kRead}; }

Identity NodeIdentity(absl::string_view node_kind, absl::string_view node_id) {
  return Identity{PeerKind::kNode, std::string(node_id), std::string(node_kind), Role::kRead};
}

Identity ClientIdentity(Role role, absl::string_view name) {
  return Identity{PeerKind::kClient, std::string(name), "", role};
}

absl::Status CheckIdentityName(absl::string_view name, absl::string_view what) {
  if (name.empty() || name.size() > 128) {
    return absl::InvalidArgumentError(absl::StrCat(what, " must have 1 to 128 characters"));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " '", name, "' may hold only letters, digits, '.', '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

std::string IdentityUri(const Identity& identity) {
  switch (identity.kind) {
    case PeerKind::kScheduler:
      return absl::StrCat(kScheme, "scheduler");
    case PeerKind::kNode:
      return absl::StrCat(kScheme, "node/", identity.node_kind, "/", identity.name);
    case PeerKind::kClient:
      return absl::StrCat(kScheme, "client/", RoleName(identity.role), "/", identity.name);
    case PeerKind::kNone:
      break;
  }
  return "";
}

absl::StatusOr<Identity> ParseIdentityUri(absl::string_view uri) {
  absl::string_view rest = uri;
  if (!absl::ConsumePrefix(&rest, kScheme)) {
    return absl::InvalidArgumentError(absl::StrCat("'", uri, "' is not a cosched:// URI"));
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(rest, '/');
  if (parts.size() == 1 && parts[0] == "scheduler") return SchedulerIdentity();
  if (parts.size() == 3 && parts[0] == "node") {
    if (parts[1] != "datacenter" && parts[1] != "vehicle") {
      return absl::InvalidArgumentError(absl::StrCat("'", uri, "': node kind '", parts[1],
                                                     "' is neither datacenter nor vehicle"));
    }
    if (absl::Status s = CheckIdentityName(parts[2], absl::StrCat("'", uri, "': node id"));
        !s.ok()) {
      return s;
    }
    return NodeIdentity(parts[1], parts[2]);
  }
  if (parts.size() == 3 && parts[0] == "client") {
    absl::StatusOr<Role> role = ParseRole(parts[1]);
    if (!role.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("'", uri, "': ", role.status().message()));
    }
    if (absl::Status s = CheckIdentityName(parts[2], absl::StrCat("'", uri, "': client name"));
        !s.ok()) {
      return s;
    }
    return ClientIdentity(*role, parts[2]);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", uri,
                   "' is none of cosched://scheduler, cosched://node/<kind>/<id>, "
                   "cosched://client/<role>/<name>"));
}

absl::StatusOr<Identity> IdentityFromUris(const std::vector<std::string>& uris) {
  std::optional<Identity> found;
  for (const std::string& uri : uris) {
    if (!absl::StartsWith(uri, kScheme)) continue;
    absl::StatusOr<Identity> identity = ParseIdentityUri(uri);
    if (!identity.ok()) return identity.status();
    if (found.has_value() && !(*found == *identity)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the certificate names two cosched identities: ", IdentityUri(*found), " and ", uri));
    }
    found = *identity;
  }
  if (!found.has_value()) {
    return absl::PermissionDeniedError("the certificate names no cosched:// identity");
  }
  return *found;
}

std::string Describe(const Identity& identity) {
  switch (identity.kind) {
    case PeerKind::kScheduler:
      return "the scheduler";
    case PeerKind::kNode:
      return absl::StrCat("node ", identity.name, " (", identity.node_kind, ")");
    case PeerKind::kClient:
      return absl::StrCat("client ", identity.name, " (", RoleName(identity.role), ")");
    case PeerKind::kNone:
      break;
  }
  return "an unauthenticated peer";
}

}  // namespace cosched::tls
