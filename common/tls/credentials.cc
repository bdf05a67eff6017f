// File: common/tls/credentials.cc
#include "common/tls/credentials.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/posix_io.h"
#include "common/tls/trust_store.h"

namespace cosched::tls {

namespace {

// How often gRPC looks at the own certificate and key files for a rotated pair.
constexpr unsigned int kCertificateRefreshSeconds = 1;

// Runs after the TLS handshake on a client: is the server the scheduler? gRPC's own
// verification is off (it cannot say why it refuses a certificate, and it checks host names,
// which mean nothing to a vehicle dialling through NAT): this does all of it.
class SchedulerVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit SchedulerVerifier(std::shared_ptr<TrustStore> trust) : trust_(std::move(trust)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    *sync_status = Check(request);
    return true;  // synchronous
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest* /*request*/) override {}

 private:
  grpc::Status Check(grpc::experimental::TlsCustomVerificationCheckRequest* request) {
    const grpc::string_ref leaf = request->peer_cert();
    if (leaf.empty()) {
      spdlog::warn("TLS: the scheduler presented no certificate");
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no server certificate");
    }
    const grpc::string_ref chain = request->peer_cert_full_chain();
    absl::StatusOr<Identity> identity =
        trust_->Verify(absl::string_view(leaf.data(), leaf.size()),
                       absl::string_view(chain.data(), chain.size()), PeerEnd::kServer);
    if (!identity.ok()) {
      spdlog::warn("TLS: {}", std::string(identity.status().message()));
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          std::string(identity.status().message()));
    }
    if (identity->kind != PeerKind::kScheduler) {
      spdlog::warn("TLS: the server presented the certificate of {}, not the scheduler's",
                   Describe(*identity));
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "the server's certificate is not the scheduler's");
    }
    return grpc::Status::OK;
  }

  const std::shared_ptr<TrustStore> trust_;
};

// The server's handshake: any certificate (or none) gets a connection; every call on it is
// checked by the Authorizer, which can tell the caller why it is refused.
class AcceptAnyCertificate final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* /*request*/,
              std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) override {
    *sync_status = grpc::Status::OK;
    return true;
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest* /*request*/) override {}
};

}  // namespace

void RegisterTlsFlags(FlagParser& parser, TlsFlags* flags) {
  parser.String("tls-ca", &flags->ca_file, "CA certificate(s) peers must chain to (PEM)");
  parser.String("tls-cert", &flags->cert_file,
                "this process's certificate (PEM; reloaded when the file changes)");
  parser.String("tls-key", &flags->key_file, "its private key (PEM)");
  parser.String("tls-crl", &flags->crl_file, "revoked certificates (PEM CRL; optional)");
  parser.Bool("insecure", &flags->insecure,
              "plaintext and unauthenticated (development only; logs a warning)");
}

void UseCertificateDirectory(const std::string& dir, const std::string& stem, TlsFlags* flags) {
  if (flags->ca_file.empty()) flags->ca_file = absl::StrCat(dir, "/ca.pem");
  if (flags->cert_file.empty() && !stem.empty()) {
    flags->cert_file = absl::StrCat(dir, "/", stem, ".pem");
  }
  if (flags->key_file.empty() && !stem.empty()) {
    flags->key_file = absl::StrCat(dir, "/", stem, "-key.pem");
  }
  if (flags->crl_file.empty() && FileExists(absl::StrCat(dir, "/crl.pem"))) {
    flags->crl_file = absl::StrCat(dir, "/crl.pem");
  }
}

absl::Status CheckTlsFlags(const TlsFlags& flags, TlsUse use) {
  if (flags.insecure) return absl::OkStatus();
  const char* hint = " (or --insecure for plaintext; `coschedctl certs` creates certificates)";
  if (flags.ca_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--tls-ca is required", hint));
  }
  const bool has_pair = !flags.cert_file.empty() || !flags.key_file.empty();
  if (use != TlsUse::kClient || has_pair || flags.token.empty()) {
    if (flags.cert_file.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--tls-cert is required", use == TlsUse::kClient ? " (or a token)" : "", hint));
    }
    if (flags.key_file.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--tls-key is required", hint));
    }
  }
  for (const std::string* path : {&flags.ca_file, &flags.cert_file, &flags.key_file}) {
    if (!path->empty() && !FileExists(*path)) {
      return absl::NotFoundError(absl::StrCat("TLS file '", *path, "' does not exist"));
    }
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const TlsFlags& flags) {
  if (flags.insecure) return grpc::InsecureServerCredentials();
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      flags.key_file, flags.cert_file, kCertificateRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<AcceptAnyCertificate>());
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<TrustStore> CallerTrustStore(const TlsFlags& flags) {
  if (flags.insecure) return nullptr;
  return std::make_shared<TrustStore>(flags.ca_file, flags.crl_file);
}

std::shared_ptr<grpc::ChannelCredentials> SchedulerChannelCredentials(const TlsFlags& flags) {
  if (flags.insecure) return grpc::InsecureChannelCredentials();
  grpc::experimental::TlsChannelCredentialsOptions options;
  if (!flags.cert_file.empty()) {
    auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        flags.key_file, flags.cert_file, kCertificateRefreshSeconds);
    options.set_certificate_provider(provider);
    options.watch_identity_key_cert_pairs();
  }
  options.set_verify_server_certs(false);  // PeerVerifier does it
  options.set_check_call_host(false);      // identities are URIs, not host names
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<SchedulerVerifier>(
          std::make_shared<TrustStore>(flags.ca_file, flags.crl_file)));
  std::shared_ptr<grpc::ChannelCredentials> channel = grpc::experimental::TlsCredentials(options);
  if (flags.token.empty()) return channel;
  return grpc::CompositeChannelCredentials(channel, grpc::AccessTokenCredentials(flags.token));
}

void WarnInsecure(absl::string_view program) {
  spdlog::warn(
      "--insecure: {} speaks plaintext and checks no identity: anyone who can reach "
      "it can act as any node or client",
      std::string(program));
}

}  // namespace cosched::tls
