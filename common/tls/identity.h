// File: common/tls/identity.h
// Who a peer is, as its certificate says: the one vocabulary shared by the code that issues
// certificates (coschedctl certs), the code that checks them (the TLS verifier) and the
// services that authorise calls. An identity is a URI in the certificate's subject alternative
// names, the way SPIFFE names workloads: peers are checked by what they are, not by the host
// name they happen to be reached under.
//
//   cosched://scheduler                   the scheduler
//   cosched://node/<kind>/<node id>       a worker; kind is datacenter or vehicle
//   cosched://client/<role>/<name>        a user or a script; role is read, submit or admin
//
// Plain functions of their arguments; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cosched::tls {

// What a client may do. Ordered: each role may do everything the ones before it may.
enum class Role {
  kRead = 0,    // get and list jobs, nodes and models, explain
  kSubmit = 1,  // also submit jobs, cancel its own, send inference requests
  kAdmin = 2,   // also cancel anyone's jobs, publish and promote model versions
};

enum class PeerKind { kNone, kScheduler, kNode, kClient };

struct Identity {
  PeerKind kind = PeerKind::kNone;
  std::string name;         // node id or client name; empty for the scheduler
  std::string node_kind;    // nodes: "datacenter" or "vehicle"
  Role role = Role::kRead;  // clients

  bool operator==(const Identity&) const = default;
};

// "read", "submit", "admin".
absl::string_view RoleName(Role role);
absl::StatusOr<Role> ParseRole(absl::string_view text);

Identity SchedulerIdentity();
Identity NodeIdentity(absl::string_view node_kind, absl::string_view node_id);
Identity ClientIdentity(Role role, absl::string_view name);

// The identity's URI (see above).
std::string IdentityUri(const Identity& identity);
// Parses one URI; an error names what is wrong with it. Names are 1 to 128 characters of
// [A-Za-z0-9._-] (node ids and client names: what a file name and a URI path can both hold).
absl::StatusOr<Identity> ParseIdentityUri(absl::string_view uri);
// The one cosched identity among a certificate's URI SANs: other URIs are ignored; none, or
// two different cosched ones, is an error.
absl::StatusOr<Identity> IdentityFromUris(const std::vector<std::string>& uris);

// "node car-1 (vehicle)", "client alice (submit)", "the scheduler": for log lines and errors.
std::string Describe(const Identity& identity);

// Checks a node id or client name against the rule above; `what` names it in the error.
absl::Status CheckIdentityName(absl::string_view name, absl::string_view what);

}  // namespace cosched::tls
