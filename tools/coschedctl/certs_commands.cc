// File: tools/coschedctl/certs_commands.cc
// `certs init|scheduler|node|client|token|revoke|list`: a development CA in a directory
// (--dir), on top of common/tls/cert_authority.h and token_file.h. Local files only, so they
// work with no scheduler running. Issuing again overwrites the files: that is how a
// certificate is rotated, as the running processes reload the files they were started with.
#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/tls/cert_authority.h"
#include "common/tls/identity.h"
#include "common/tls/token_file.h"
#include "tools/coschedctl/command.h"
#include "tools/coschedctl/format.h"
#include "tools/coschedctl/table.h"

namespace cosched::coschedctl {
namespace {

// Clocks of the machines that check a fresh certificate may be a little behind this one.
constexpr absl::Duration kClockSkew = absl::Minutes(5);

std::string InDir(const Options& options, absl::string_view name) {
  return absl::StrCat(options.certs_dir, "/", name);
}

std::string Rfc3339(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

std::string Local(absl::Time time) {
  return absl::FormatTime("%Y-%m-%d %H:%M", time, absl::LocalTimeZone());
}

void DirFlag(FlagParser& parser, Options& options) {
  parser.String("dir", &options.certs_dir, "directory of the CA, certificates, keys and tokens");
}

void ValidityFlags(FlagParser& parser, Options& options) {
  DirFlag(parser, options);
  parser.Int("days", &options.days, "days the certificate is valid");
  parser.Int("not-before-days", &options.not_before_days,
             "start of validity in days from now, may be negative (for tests); 0: now minus 5m");
}

struct Validity {
  absl::Time not_before;
  absl::Time not_after;
};

// nullopt after reporting a usage error.
std::optional<Validity> ValidityOf(const Options& options) {
  if (options.days <= 0 || options.days > 100 * 365) {
    ReportUsage(absl::StrCat("--days ", options.days, " must be 1 to 36500"));
    return std::nullopt;
  }
  if (options.not_before_days < -36500 || options.not_before_days > 36500) {
    ReportUsage(
        absl::StrCat("--not-before-days ", options.not_before_days, " must be -36500 to 36500"));
    return std::nullopt;
  }
  const absl::Time now = absl::Now();
  const absl::Time not_before = options.not_before_days == 0
                                    ? now - kClockSkew
                                    : now + absl::Hours(24 * options.not_before_days);
  return Validity{not_before, not_before + absl::Hours(24 * options.days)};
}

// The CA must be there before anything is issued or revoked; says how to make one.
bool HaveCa(const Options& options, absl::string_view command) {
  std::error_code error;
  if (std::filesystem::exists(InDir(options, "ca.pem"), error)) return true;
  std::fprintf(stderr, "coschedctl: %s: no CA in '%s' (run `coschedctl certs init --dir %s`)\n",
               std::string(command).c_str(), options.certs_dir.c_str(), options.certs_dir.c_str());
  return false;
}

int Failed(const Context& context, absl::string_view command, const absl::Status& status) {
  return ReportFailure(context, command, status);
}

void InitFlags(FlagParser& parser, Options& options) {
  ValidityFlags(parser, options);
  parser.String("name", &options.ca_name, "the CA's common name");
  parser.Bool("force", &options.force,
              "replace an existing CA (every certificate it issued "
              "stops verifying)");
}

int Init(const Context& context) {
  const Options& options = context.options;
  std::optional<Validity> validity = ValidityOf(options);
  if (!validity.has_value()) return kExitUsage;
  const std::string cert = InDir(options, "ca.pem");
  const std::string key = InDir(options, "ca-key.pem");
  std::error_code error;
  if (std::filesystem::exists(cert, error) && !options.force) {
    return Failed(context, "certs init",
                  absl::AlreadyExistsError(
                      absl::StrCat("'", cert,
                                   "' exists; --force replaces it, and every certificate it "
                                   "issued then stops verifying")));
  }
  std::filesystem::create_directories(options.certs_dir, error);
  if (error) {
    return Failed(context, "certs init",
                  absl::InternalError(
                      absl::StrCat("cannot create '", options.certs_dir, "': ", error.message())));
  }
  // Only the owner needs to enter it: it holds the keys.
  std::filesystem::permissions(options.certs_dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, error);
  absl::Status status =
      tls::CreateCa(cert, key, options.ca_name, validity->not_before, validity->not_after);
  if (!status.ok()) return Failed(context, "certs init", status);
  absl::StatusOr<tls::CertificateInfo> info = tls::ReadCertificate(cert);
  if (!info.ok()) return Failed(context, "certs init", info.status());
  if (context.format == OutputFormat::kJson) {
    PrintJson({{"cert", cert},
               {"key", key},
               {"name", options.ca_name},
               {"serial", info->serial_hex},
               {"not_before", Rfc3339(info->not_before)},
               {"not_after", Rfc3339(info->not_after)}});
    return kExitOk;
  }
  Table fields;
  fields.AddRow({"CA:", options.ca_name});
  fields.AddRow({"Certificate:", cert});
  fields.AddRow({"Key:", absl::StrCat(key, " (mode 0600; keep it secret)")});
  fields.AddRow({"Serial:", info->serial_hex});
  fields.AddRow({"Valid:", absl::StrCat(Local(info->not_before), " to ", Local(info->not_after))});
  Print(fields.Render());
  return kExitOk;
}

// Issues `request` as <dir>/<stem>.pem and <dir>/<stem>-key.pem and prints what it wrote.
int Issue(const Context& context, absl::string_view command, tls::CertificateRequest request,
          absl::string_view stem) {
  const Options& options = context.options;
  if (!HaveCa(options, command)) return kExitFailed;
  std::optional<Validity> validity = ValidityOf(options);
  if (!validity.has_value()) return kExitUsage;
  request.not_before = validity->not_before;
  request.not_after = validity->not_after;
  const std::string cert = InDir(options, absl::StrCat(stem, ".pem"));
  const std::string key = InDir(options, absl::StrCat(stem, "-key.pem"));
  absl::StatusOr<std::string> serial = tls::IssueCertificate(
      InDir(options, "ca.pem"), InDir(options, "ca-key.pem"), request, cert, key);
  if (!serial.ok()) return Failed(context, command, serial.status());
  const std::string uri = tls::IdentityUri(request.identity);
  if (context.format == OutputFormat::kJson) {
    PrintJson({{"cert", cert},
               {"key", key},
               {"identity", uri},
               {"dns_names", request.dns_names},
               {"ip_addresses", request.ip_addresses},
               {"serial", *serial},
               {"not_before", Rfc3339(request.not_before)},
               {"not_after", Rfc3339(request.not_after)}});
    return kExitOk;
  }
  std::vector<std::string> hosts = request.dns_names;
  hosts.insert(hosts.end(), request.ip_addresses.begin(), request.ip_addresses.end());
  Table fields;
  fields.AddRow({"Identity:", absl::StrCat(uri, " (", tls::Describe(request.identity), ")")});
  if (!hosts.empty()) fields.AddRow({"Hosts:", absl::StrJoin(hosts, ", ")});
  fields.AddRow({"Certificate:", cert});
  fields.AddRow({"Key:", absl::StrCat(key, " (mode 0600)")});
  fields.AddRow({"Serial:", *serial});
  fields.AddRow(
      {"Valid:", absl::StrCat(Local(request.not_before), " to ", Local(request.not_after))});
  Print(fields.Render());
  return kExitOk;
}

void SchedulerFlags(FlagParser& parser, Options& options) {
  ValidityFlags(parser, options);
  parser.StringList("host", &options.hosts,
                    "names the scheduler is reached by, repeatable or comma-separated; an IP "
                    "address becomes an IP SAN, anything else a DNS SAN");
}

int Scheduler(const Context& context) {
  tls::CertificateRequest request;
  request.identity = tls::SchedulerIdentity();
  std::set<std::string> seen;
  for (const std::string& host : context.options.hosts) {
    if (!seen.insert(host).second) continue;
    unsigned char address[16];
    const bool ip = inet_pton(AF_INET, host.c_str(), address) == 1 ||
                    inet_pton(AF_INET6, host.c_str(), address) == 1;
    (ip ? request.ip_addresses : request.dns_names).push_back(host);
  }
  return Issue(context, "certs scheduler", std::move(request), "scheduler");
}

void NodeFlags(FlagParser& parser, Options& options) {
  ValidityFlags(parser, options);
  parser.String("kind", &options.node_kind, "datacenter or vehicle (required)");
}

int Node(const Context& context) {
  const std::string& id = context.args[0];
  const std::string& kind = context.options.node_kind;
  if (kind != "datacenter" && kind != "vehicle") {
    return ReportUsage(absl::StrCat("certs node needs --kind datacenter or --kind vehicle",
                                    kind.empty() ? "" : absl::StrCat(", not '", kind, "'")));
  }
  if (absl::Status s = tls::CheckIdentityName(id, "node id"); !s.ok()) {
    return ReportUsage(s.message());
  }
  tls::CertificateRequest request;
  request.identity = tls::NodeIdentity(kind, id);
  return Issue(context, "certs node", std::move(request), absl::StrCat("node-", id));
}

void RoleFlags(FlagParser& parser, Options& options) {
  ValidityFlags(parser, options);
  parser.String("role", &options.role, "read, submit or admin (required)");
}

// nullopt after reporting a usage error.
std::optional<tls::Role> RoleOf(const Context& context, absl::string_view command) {
  if (context.options.role.empty()) {
    ReportUsage(absl::StrCat(command, " needs --role read|submit|admin"));
    return std::nullopt;
  }
  absl::StatusOr<tls::Role> role = tls::ParseRole(context.options.role);
  if (!role.ok()) {
    ReportUsage(absl::StrCat("--role: ", role.status().message()));
    return std::nullopt;
  }
  if (absl::Status s = tls::CheckIdentityName(context.args[0], "the name"); !s.ok()) {
    ReportUsage(s.message());
    return std::nullopt;
  }
  return *role;
}

int Client(const Context& context) {
  std::optional<tls::Role> role = RoleOf(context, "certs client");
  if (!role.has_value()) return kExitUsage;
  tls::CertificateRequest request;
  request.identity = tls::ClientIdentity(*role, context.args[0]);
  return Issue(context, "certs client", std::move(request),
               absl::StrCat("client-", context.args[0]));
}

void TokenFlags(FlagParser& parser, Options& options) {
  DirFlag(parser, options);
  parser.String("role", &options.role, "read, submit or admin (required)");
}

int Token(const Context& context) {
  std::optional<tls::Role> role = RoleOf(context, "certs token");
  if (!role.has_value()) return kExitUsage;
  const std::string& name = context.args[0];
  const std::string path = InDir(context.options, "tokens.yaml");
  std::error_code error;
  std::filesystem::create_directories(context.options.certs_dir, error);
  const std::string token = tls::NewToken();
  absl::Status status = tls::AppendToken(path, name, *role, token);
  if (!status.ok()) return Failed(context, "certs token", status);
  if (context.format == OutputFormat::kJson) {
    PrintJson(
        {{"name", name}, {"role", tls::RoleName(*role)}, {"token", token}, {"tokens_file", path}});
    return kExitOk;
  }
  Print(absl::StrCat("Token for ", tls::Describe(tls::ClientIdentity(*role, name)),
                     "; its SHA-256 was added to ", path, ":\n\n  ", token,
                     "\n\nKeep it now: only its digest is stored, so it cannot be shown again.\n"));
  return kExitOk;
}

int Revoke(const Context& context) {
  const Options& options = context.options;
  if (!HaveCa(options, "certs revoke")) return kExitFailed;
  // A bare file name ("node-car-1.pem") may name a file in --dir.
  std::string file = context.args[0];
  std::error_code error;
  if (!std::filesystem::exists(file, error) && !absl::StrContains(file, '/') &&
      std::filesystem::exists(InDir(options, file), error)) {
    file = InDir(options, file);
  }
  absl::StatusOr<tls::CertificateInfo> info = tls::ReadCertificate(file);
  if (!info.ok()) return Failed(context, "certs revoke", info.status());
  const std::string crl = InDir(options, "crl.pem");
  absl::Status status =
      tls::RevokeCertificate(InDir(options, "ca.pem"), InDir(options, "ca-key.pem"), file, crl);
  if (!status.ok()) return Failed(context, "certs revoke", status);
  absl::StatusOr<std::vector<std::string>> revoked = tls::ReadRevokedSerials(crl);
  const size_t count = revoked.ok() ? revoked->size() : 0;
  if (context.format == OutputFormat::kJson) {
    PrintJson({{"cert", file},
               {"identity", absl::StrJoin(info->uris, ",")},
               {"serial", info->serial_hex},
               {"crl", crl},
               {"revoked_count", count}});
    return kExitOk;
  }
  Print(absl::StrCat("Revoked ", file, " (serial ", info->serial_hex, "); ", crl, " lists ", count,
                     count == 1 ? " certificate" : " certificates",
                     ". Processes that load this CRL refuse it from their next handshake.\n"));
  return kExitOk;
}

// "ok", "expired", "not yet valid" or "revoked" (which wins: it is the one a person acted on).
std::string StatusOf(const tls::CertificateInfo& info, const std::set<std::string>& revoked,
                     absl::Time now) {
  if (revoked.contains(info.serial_hex)) return "revoked";
  if (now > info.not_after) return "expired";
  if (now < info.not_before) return "not yet valid";
  return "ok";
}

std::string IdentityOf(const tls::CertificateInfo& info) {
  if (info.is_ca) return absl::StrCat("CA \"", info.common_name, "\"");
  for (const std::string& uri : info.uris) {
    if (absl::StartsWith(uri, "cosched://")) return uri;
  }
  return absl::StrCat("CN=", info.common_name);
}

int List(const Context& context) {
  const Options& options = context.options;
  std::error_code error;
  std::vector<std::string> files;
  for (std::filesystem::directory_iterator it(options.certs_dir, error), end; !error && it != end;
       it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (absl::EndsWith(name, ".pem") && !absl::EndsWith(name, "-key.pem") && name != "crl.pem" &&
        !absl::StartsWith(name, ".")) {
      files.push_back(it->path().string());
    }
  }
  if (error) {
    return Failed(
        context, "certs list",
        absl::Status(absl::ErrnoToStatusCode(error.value()),
                     absl::StrCat("cannot list '", options.certs_dir, "': ", error.message())));
  }
  std::sort(files.begin(), files.end());
  std::set<std::string> revoked;
  const std::string crl = InDir(options, "crl.pem");
  if (std::filesystem::exists(crl, error)) {
    absl::StatusOr<std::vector<std::string>> serials = tls::ReadRevokedSerials(crl);
    if (!serials.ok()) return Failed(context, "certs list", serials.status());
    revoked.insert(serials->begin(), serials->end());
  }
  const absl::Time now = absl::Now();
  Table table({"FILE", "IDENTITY", "SERIAL", "NOT AFTER", "STATUS"});
  int result = kExitOk;
  for (const std::string& file : files) {
    absl::StatusOr<tls::CertificateInfo> info = tls::ReadCertificate(file);
    if (!info.ok()) {
      // One unreadable file should not hide the others.
      std::fprintf(stderr, "coschedctl: certs list: %s\n",
                   std::string(info.status().message()).c_str());
      result = kExitFailed;
      continue;
    }
    const std::string status = StatusOf(*info, revoked, now);
    if (context.format == OutputFormat::kJson) {
      // One object a line, so `grep` and `jq -c` take the list apart.
      const nlohmann::ordered_json line = {{"file", file},
                                           {"identity", IdentityOf(*info)},
                                           {"serial", info->serial_hex},
                                           {"not_before", Rfc3339(info->not_before)},
                                           {"not_after", Rfc3339(info->not_after)},
                                           {"status", status}};
      // `replace`: a file name that is not UTF-8 must not make dump() throw.
      Print(absl::StrCat(
          line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace), "\n"));
    } else {
      table.AddRow({file, IdentityOf(*info), info->serial_hex, Local(info->not_after), status});
    }
  }
  if (context.format == OutputFormat::kTable) {
    Print(table.rows() == 0 ? absl::StrCat("No certificates in ", options.certs_dir, ".\n")
                            : table.Render());
  }
  return result;
}

}  // namespace

std::vector<Command> CertCommands() {
  return {
      {{"certs", "init"}, "", 0, 0, "create a development CA in --dir", InitFlags, Init, true},
      {{"certs", "scheduler"},
       "",
       0,
       0,
       "issue the scheduler's certificate (--host for its names)",
       SchedulerFlags,
       Scheduler,
       true},
      {{"certs", "node"},
       "ID",
       1,
       1,
       "issue a worker's certificate (--kind datacenter|vehicle)",
       NodeFlags,
       Node,
       true},
      {{"certs", "client"},
       "NAME",
       1,
       1,
       "issue a client certificate (--role read|submit|admin)",
       RoleFlags,
       Client,
       true},
      {{"certs", "token"},
       "NAME",
       1,
       1,
       "add a bearer token to --dir/tokens.yaml and print it once",
       TokenFlags,
       Token,
       true},
      {{"certs", "revoke"},
       "FILE",
       1,
       1,
       "add a certificate to --dir/crl.pem",
       DirFlag,
       Revoke,
       true},
      {{"certs", "list"},
       "",
       0,
       0,
       "the certificates in --dir: identity, serial, expiry, revoked",
       DirFlag,
       List,
       true},
  };
}

}  // namespace cosched::coschedctl
