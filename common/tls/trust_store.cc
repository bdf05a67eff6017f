// File: common/tls/trust_store.cc
#include "common/tls/trust_store.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/tls/x509_util.h"

namespace cosched::tls {

namespace {

// Bounds the cache of verified certificates; a server sees few distinct ones.
constexpr size_t kMaxVerified = 4096;

// When the certificate stops being valid (so a cached verdict is not kept past it).
absl::Time NotAfter(X509* cert) {
  struct tm parsed {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &parsed) != 1) return absl::UnixEpoch();
  return absl::FromUnixSeconds(timegm(&parsed));
}

}  // namespace

bool TrustStore::FileStamp::operator==(const FileStamp& other) const {
  return exists == other.exists && modified.tv_sec == other.modified.tv_sec &&
         modified.tv_nsec == other.modified.tv_nsec && size == other.size;
}

TrustStore::FileStamp TrustStore::Stamp(const std::string& path) {
  FileStamp stamp;
  struct stat info {};
  if (path.empty() || ::stat(path.c_str(), &info) != 0) return stamp;
  stamp.exists = true;
  stamp.modified = info.st_mtim;
  stamp.size = info.st_size;
  return stamp;
}

TrustStore::TrustStore(std::string ca_file, std::string crl_file)
    : ca_file_(std::move(ca_file)), crl_file_(std::move(crl_file)) {}

TrustStore::~TrustStore() {
  MutexLock lock(&mu_);
  X509_STORE_free(store_);
}

absl::Status TrustStore::Refresh() {
  const FileStamp ca = Stamp(ca_file_);
  const FileStamp crl = Stamp(crl_file_);
  if (store_ != nullptr && ca == ca_stamp_ && crl == crl_stamp_) return absl::OkStatus();
  if (store_ == nullptr && ca == ca_stamp_ && crl == crl_stamp_ && !load_error_.ok()) {
    return load_error_;  // still the files that failed to load
  }
  ca_stamp_ = ca;
  crl_stamp_ = crl;
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
  {
    MutexLock lock(&mu_);
    if (Refresh().ok()) {
      auto it = verified_.find(leaf_pem);
      if (it != verified_.end() && it->second.store_version == store_version_ &&
          absl::Now() < it->second.not_after) {
        return it->second.result;
      }
    }
  }
  absl::StatusOr<Identity> result = VerifyUncached(leaf_pem, chain_pem, end);
  MutexLock lock(&mu_);
  if (verified_.size() >= kMaxVerified) verified_.clear();
  absl::StatusOr<X509Ptr> leaf = ParseCertificate(leaf_pem);
  if (leaf.ok()) {
    verified_[std::string(leaf_pem)] = Verified{store_version_, NotAfter(leaf->get()), result};
  }
  return result;
}

absl::StatusOr<Identity> TrustStore::VerifyUncached(absl::string_view leaf_pem,
                                                    absl::string_view chain_pem, PeerEnd end) {
  absl::StatusOr<X509Ptr> leaf = ParseCertificate(leaf_pem);
  if (!leaf.ok()) return leaf.status();
  const std::string who = CertificateName(leaf->get());
  absl::StatusOr<std::vector<X509Ptr>> chain = ParseCertificates(chain_pem);
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  if (chain.ok()) {
    for (const X509Ptr& cert : *chain) sk_X509_push(untrusted, cert.get());
  }
  MutexLock lock(&mu_);
  if (absl::Status s = Refresh(); !s.ok()) {
    sk_X509_free(untrusted);
    return absl::UnavailableError(
        absl::StrCat("cannot check the certificate of ", who, ": ", s.message()));
  }
  X509_STORE_CTX* context = X509_STORE_CTX_new();
  X509_STORE_CTX_init(context, store_, leaf->get(), untrusted);
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
  absl::StatusOr<Identity> identity = IdentityFromUris(UriSans(leaf->get()));
  if (!identity.ok()) {
    return absl::PermissionDeniedError(
        absl::StrCat("the certificate of ", who, " is refused: ", identity.status().message()));
  }
  return identity;
}

}  // namespace cosched::tls
