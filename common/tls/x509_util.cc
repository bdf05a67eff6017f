// File: common/tls/x509_util.cc
#include "common/tls/x509_util.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/posix_io.h"

namespace cosched::tls {

namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

}  // namespace

std::string OpenSslErrors(absl::string_view fallback) {
  std::string errors;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    absl::StrAppend(&errors, errors.empty() ? "" : "; ", buffer);
  }
  return errors.empty() ? std::string(fallback) : errors;
}

absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(absl::string_view pem) {
  std::vector<X509Ptr> certs;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  // Reading stops with "no start line" at the end of the text: that is not an error.
  const unsigned long last = ERR_peek_last_error();
  if (ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
  } else if (last != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a PEM certificate: ", OpenSslErrors("unreadable")));
  }
  return certs;
}

absl::StatusOr<X509Ptr> ParseCertificate(absl::string_view pem) {
  absl::StatusOr<std::vector<X509Ptr>> certs = ParseCertificates(pem);
  if (!certs.ok()) return certs.status();
  if (certs->empty()) return absl::InvalidArgumentError("no PEM certificate was presented");
  return std::move(certs->front());
}

absl::StatusOr<std::vector<X509Ptr>> ReadCertificates(const std::string& path) {
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::vector<X509Ptr>> certs = ParseCertificates(*text);
  if (!certs.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "': ", certs.status().message()));
  }
  if (certs->empty()) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' holds no PEM certificate"));
  }
  return certs;
}

absl::StatusOr<std::vector<X509CrlPtr>> ReadCrls(const std::string& path) {
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  std::vector<X509CrlPtr> crls;
  BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
    crls.emplace_back(crl);
  }
  const unsigned long last = ERR_peek_last_error();
  if (ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
  } else if (last != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "': not a PEM CRL: ", OpenSslErrors("unreadable")));
  }
  if (crls.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "' holds no PEM CRL"));
  }
  return crls;
}

std::vector<std::string> UriSans(X509* cert) {
  std::vector<std::string> uris;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return uris;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                      static_cast<size_t>(ASN1_STRING_length(uri)));
  }
  GENERAL_NAMES_free(names);
  return uris;
}

std::string SerialHex(const ASN1_INTEGER* serial) {
  std::unique_ptr<BIGNUM, OpenSslFree<BN_free>> number(ASN1_INTEGER_to_BN(serial, nullptr));
  if (number == nullptr) return "?";
  char* hex = BN_bn2hex(number.get());
  std::string text = hex != nullptr ? absl::AsciiStrToLower(hex) : "?";
  OPENSSL_free(hex);
  return text;
}

std::string SerialHex(X509* cert) { return SerialHex(X509_get0_serialNumber(cert)); }

absl::Time ToTime(const ASN1_TIME* time) {
  struct tm parts {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) return absl::InfinitePast();
  return absl::FromCivil(absl::CivilSecond(parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                                           parts.tm_hour, parts.tm_min, parts.tm_sec),
                         absl::UTCTimeZone());
}

std::string CertificateName(X509* cert) {
  for (const std::string& uri : UriSans(cert)) {
    if (absl::StartsWith(uri, "cosched://")) {
      return absl::StrCat(uri, " (serial ", SerialHex(cert), ")");
    }
  }
  char subject[256];
  X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof(subject));
  return absl::StrCat("'", subject, "' (serial ", SerialHex(cert), ")");
}

}  // namespace cosched::tls
