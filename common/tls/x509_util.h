// File: common/tls/x509_util.h
// Small pieces of OpenSSL's X.509 API in the house style: owning pointers, PEM parsing that
// returns a Status naming the file or what was wrong, and the parts of a certificate that
// cosched reads (its URI SANs, a name for log lines).
#pragma once

#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace cosched::tls {

// The deleter of an OpenSSL object whose free function is `kFree`:
// std::unique_ptr<X509, OpenSslFree<X509_free>>.
template <auto kFree>
struct OpenSslFree {
  template <typename T>
  void operator()(T* object) const {
    kFree(object);
  }
};
using X509Ptr = std::unique_ptr<X509, OpenSslFree<X509_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, OpenSslFree<X509_CRL_free>>;

// The first certificate in `pem`.
absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view pem);
// Every certificate in `pem` (none for an empty string).
absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(absl::string_view pem);
// Every certificate in the file; an error if it holds none.
absl::StatusOr<std::vector<X509Ptr>> ReadCertificates(const std::string& path);
// Every CRL in the file; an error if it holds none.
absl::StatusOr<std::vector<X509CrlPtr>> ReadCrls(const std::string& path);

// The URIs among the certificate's subject alternative names.
std::vector<std::string> UriSans(X509* cert);
// A serial number, and a certificate's, in lower-case hex.
std::string SerialHex(const ASN1_INTEGER* serial);
std::string SerialHex(X509* cert);
// An ASN.1 time (a certificate's notAfter, say); InfinitePast when it does not parse.
absl::Time ToTime(const ASN1_TIME* time);
// "cosched://node/vehicle/car-1 (serial 3f0a...)", or its subject when it has no cosched URI.
std::string CertificateName(X509* cert);
// OpenSSL's queued errors as one line (and clears the queue); `fallback` when there are none.
std::string OpenSslErrors(absl::string_view fallback);

}  // namespace cosched::tls
