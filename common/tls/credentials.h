// File: common/tls/credentials.h
// The TLS settings of a cosched process and the gRPC credentials built from them. Every
// endpoint speaks TLS unless the process was started with --insecure (which logs a warning).
//
// - Own certificate and key: watched by gRPC's FileWatcherCertificateProvider, so a rotated
//   pair (written over the old files) is used for new connections without a restart.
// - The peer's certificate: checked by a TrustStore (the CA and CRL files, read again when
//   they change), which logs exactly why one is refused (expired, revoked, another CA). The
//   peer is identified by the cosched:// URI in its certificate, not by a host name: a
//   worker dials the scheduler at whatever address it was given and accepts it if its
//   certificate says cosched://scheduler.
// - Servers ask for a client certificate but neither require nor check one in the handshake:
//   the Authorizer verifies it on every call against the same kind of TrustStore, so a
//   refused caller learns why (a failed handshake tells it nothing); a client may instead
//   send a bearer token.
#pragma once

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/flags.h"
#include "common/tls/trust_store.h"

namespace cosched::tls {

struct TlsFlags {
  std::string ca_file;    // the CA bundle peers' certificates must chain to
  std::string cert_file;  // this process's certificate (chain), PEM
  std::string key_file;   // its private key, PEM
  std::string crl_file;   // revoked certificates (optional)
  std::string token;      // clients: a bearer token instead of a certificate (not a flag)
  bool insecure = false;  // plaintext, no authentication: development only
};

// --tls-ca, --tls-cert, --tls-key, --tls-crl and --insecure.
void RegisterTlsFlags(FlagParser& parser, TlsFlags* flags);

// Fills the flags left empty from files named in `dir` the way `coschedctl certs` writes them
// (DIR/ca.pem, DIR/<stem>.pem, DIR/<stem>-key.pem, DIR/crl.pem when it exists).
void UseCertificateDirectory(const std::string& dir, const std::string& stem, TlsFlags* flags);

// What a process needs: a server and a worker need a certificate and key of their own; a
// client needs either those or a token. The error names the missing flag.
enum class TlsUse { kServer, kNode, kClient };
absl::Status CheckTlsFlags(const TlsFlags& flags, TlsUse use);

// Insecure credentials when flags.insecure; otherwise TLS as described above.
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const TlsFlags& flags);
// The TrustStore a server's Authorizer verifies callers with; null when flags.insecure.
std::shared_ptr<TrustStore> CallerTrustStore(const TlsFlags& flags);
// Credentials to reach the scheduler (or its aggregator): its certificate must carry
// cosched://scheduler. A token is sent as "authorization: Bearer <token>" on every call.
std::shared_ptr<grpc::ChannelCredentials> SchedulerChannelCredentials(const TlsFlags& flags);

// The warning a program started with --insecure logs once, at its start.
void WarnInsecure(absl::string_view program);

}  // namespace cosched::tls
