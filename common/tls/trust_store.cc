// File: common/tls/trust_store.cc
#include "common/tls/trust_store.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/tls/x509_util.h"

namespace cosched::tls {

namespace {

// Bounds the cache of verified certificates; a server sees few distinct ones.
constexpr size_t kMaxVerified = 4096;

}  // namespace

TrustStore::TrustStore(std::string ca_file, std::string crl_file)
    : ca_file_(std::move(ca_file)), crl_file_(std::move(crl_file)) {}

TrustStore::~TrustStore() {
  MutexLock lock(&mu_);
  X509_STORE_free(store_);
}

absl::Status TrustStore::Refresh() {
  const FileVersion ca = StatFile(ca_file_);
  const FileVersion crl = StatFile(crl_file_);
  if (store_ != nullptr && ca == ca_version_ && crl == crl_version_) return absl::OkStatus();
  if (store_ == nullptr && ca == ca_version_ && crl == crl_version_ && !load_error_.ok()) {
    return load_error_;  // still the files that failed to load
  }
  ca_version_ = ca;
  crl_version_ = crl;
  absl::StatusOr<std::vector<X509Ptr>> cas = ReadCertificates(ca_file_);
  if (!cas.ok()) {
    load_error_ = cas.status();
    return load_error_;
  }
  X509_STORE* store = X509_STORE_new();
  for (const X509Ptr& cert : *cas) X509_STORE_add_cert(store, cert.get());
  if (!crl_file_.empty() && crl.exists) {
    absl::StatusOr<std::vector<X509CrlPtr>> crls = ReadCrls(crl_file_);
    if (!crls.ok()) {
      X509_STORE_free(store);
      load_error_ = crls.status();
      return load_error_;
    }
    for (const X509CrlPtr& list : *crls) X509_STORE_add_crl(store, list.get());
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  }
  X509_STORE_free(store_);
  store_ = store;
  ++store_version_;
  verified_.clear();
  load_error_ = absl::OkStatus();
  return absl::OkStatus();
}

absl::StatusOr<Identity> TrustStore::Verify(absl::string_view leaf_pem, absl::string_view chain_pem,
                                            PeerEnd end) {
  MutexLock lock(&mu_);
  const absl::Status loaded = Refresh();
  auto cached = verified_.find(leaf_pem);
  if (loaded.ok() && cached != verified_.end() && cached->second.end == end &&
      cached->second.store_version == store_version_ && absl::Now() < cached->second.not_after) {
    return cached->second.result;
  }
  absl::StatusOr<X509Ptr> leaf = ParseCertificate(leaf_pem);
  if (!leaf.ok()) return leaf.status();
  if (!loaded.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot check the certificate of ", CertificateName(leaf->get()), ": ", loaded.message()));
  }
  absl::StatusOr<Identity> result = VerifyLocked(leaf->get(), chain_pem, end);
  if (verified_.size() >= kMaxVerified) verified_.clear();
  verified_[std::string(leaf_pem)] =
      Verified{end, store_version_, ToTime(X509_get0_notAfter(leaf->get())), result};
  return result;
}

absl::StatusOr<Identity> TrustStore::VerifyLocked(X509* leaf, absl::string_view chain_pem,
                                                  PeerEnd end) {
  const std::string who = CertificateName(leaf);
  absl::StatusOr<std::vector<X509Ptr>> chain = ParseCertificates(chain_pem);
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  if (chain.ok()) {
    for (const X509Ptr& cert : *chain) sk_X509_push(untrusted, cert.get());
  }
  X509_STORE_CTX* context = X509_STORE_CTX_new();
  X509_STORE_CTX_init(context, store_, leaf, untrusted);
  X509_STORE_CTX_set_purpose(
      context, end == PeerEnd::kClient ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER);
  const bool verified = X509_verify_cert(context) == 1;
  const int error = X509_STORE_CTX_get_error(context);
  X509_STORE_CTX_free(context);
  sk_X509_free(untrusted);
  if (!verified) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the certificate of ", who, " is refused: ", X509_verify_cert_error_string(error)));
  }
  absl::StatusOr<Identity> identity = IdentityFromUris(UriSans(leaf));
  if (!identity.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the certificate of ", who, " is refused: ", identity.status().message()));
  }
  return identity;
}

}  // namespace cosched::tls
