// File: tools/coschedctl/connection.cc
#include "tools/coschedctl/connection.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/config.h"
#include "common/posix_io.h"
#include "common/status_macros.h"

namespace cosched::coschedctl {

namespace {

constexpr char kDefaultScheduler[] = "127.0.0.1:7070";
constexpr char kLocalCertificates[] = "cosched-certs";

std::string ConfigPath() {
  if (const char* path = std::getenv("COSCHED_CONFIG"); path != nullptr) return path;
  if (const char* home = std::getenv("HOME"); home != nullptr) {
    return absl::StrCat(home, "/.config/cosched/config.yaml");
  }
  return "";
}

// "~/x" is the home directory's x, as a shell would have it.
std::string ExpandHome(const std::string& path) {
  const char* home = std::getenv("HOME");
  if (path.rfind("~/", 0) == 0 && home != nullptr) return absl::StrCat(home, path.substr(1));
  return path;
}

absl::Status FromConfigFile(Options& options) {
  const std::string path = ConfigPath();
  const bool named = std::getenv("COSCHED_CONFIG") != nullptr;
  if (path.empty() || (!named && !FileExists(path))) return absl::OkStatus();
  ASSIGN_OR_RETURN(ConfigNode config, ConfigNode::LoadFile(path));
  RETURN_IF_ERROR(config.RejectUnknownKeys({"scheduler", "tls", "token", "insecure"}));
  auto fill = [](std::string* value, absl::StatusOr<std::string> from_file) -> absl::Status {
    if (!from_file.ok()) return from_file.status();
    if (value->empty()) *value = ExpandHome(*from_file);
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(fill(&options.scheduler, config.String("scheduler", "")));
  RETURN_IF_ERROR(fill(&options.tls.token, config.String("token", "")));
  if (config.Has("tls")) {
    ASSIGN_OR_RETURN(ConfigNode tls, config.Map("tls"));
    RETURN_IF_ERROR(tls.RejectUnknownKeys({"ca", "cert", "key", "crl"}));
    RETURN_IF_ERROR(fill(&options.tls.ca_file, tls.String("ca", "")));
    RETURN_IF_ERROR(fill(&options.tls.cert_file, tls.String("cert", "")));
    RETURN_IF_ERROR(fill(&options.tls.key_file, tls.String("key", "")));
    RETURN_IF_ERROR(fill(&options.tls.crl_file, tls.String("crl", "")));
  }
  ASSIGN_OR_RETURN(const bool insecure, config.Bool("insecure", false));
  options.tls.insecure = options.tls.insecure || insecure;
  return absl::OkStatus();
}

}  // namespace

void RegisterConnectionFlags(FlagParser& parser, Options& options) {
  parser.String("tls-ca", &options.tls.ca_file, "CA certificate the scheduler's must chain to");
  parser.String("tls-cert", &options.tls.cert_file, "client certificate (PEM)");
  parser.String("tls-key", &options.tls.key_file, "its private key (PEM)");
  parser.String("token", &options.tls.token, "bearer token (instead of a client certificate)");
  parser.Bool("insecure", &options.tls.insecure, "plaintext, for a scheduler started --insecure");
}

absl::Status ResolveConnection(Options& options) {
  // The flag parser has already taken each flag's COSCHED_* environment variable.
  if (absl::Status s = FromConfigFile(options); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("coschedctl config file: ", s.message()));
  }
  if (options.scheduler.empty()) options.scheduler = kDefaultScheduler;
  if (!options.tls.insecure && options.tls.ca_file.empty() &&
      FileExists(absl::StrCat(kLocalCertificates, "/ca.pem"))) {
    // What `cosched up` made here: its CA, and its admin client unless a token was given.
    tls::UseCertificateDirectory(
        kLocalCertificates,
        options.tls.token.empty() && options.tls.cert_file.empty() ? "client-admin" : "",
        &options.tls);
  }
  return tls::CheckTlsFlags(options.tls, tls::TlsUse::kClient);
}

}  // namespace cosched::coschedctl
