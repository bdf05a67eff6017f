// File: common/tls/cert_authority.cc
// OpenSSL 3 EVP and X509 calls only; every OpenSSL object is owned by a unique_ptr, and every
// OpenSSL failure becomes a Status that names the file involved and carries OpenSSL's queued
// errors (cleared on entry to each public function so an old error cannot show up in a new
// message).
#include "common/tls/cert_authority.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/posix_io.h"
#include "common/status_macros.h"
#include "common/tls/x509_util.h"

namespace cosched::tls {
namespace {

using X509RevokedPtr = std::unique_ptr<X509_REVOKED, OpenSslFree<X509_REVOKED_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslFree<X509_EXTENSION_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, OpenSslFree<X509_NAME_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslFree<BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslFree<BN_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, OpenSslFree<ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, OpenSslFree<ASN1_TIME_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslFree<GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, OpenSslFree<GENERAL_NAME_free>>;

constexpr mode_t kKeyMode = 0600;
constexpr mode_t kPublicMode = 0644;
constexpr absl::Duration kCrlValidity = absl::Hours(24 * 30);

// "<what> '<file>': <OpenSSL's errors>".
absl::Status SslError(absl::string_view what, absl::string_view file) {
  return absl::InternalError(
      absl::StrCat(what, " '", file, "': ", OpenSslErrors("no OpenSSL error queued")));
}

// A memory BIO over `contents`, which must outlive it.
absl::StatusOr<BioPtr> ReadOnlyBio(const std::string& contents, absl::string_view file) {
  BioPtr bio(BIO_new_mem_buf(contents.data(), static_cast<int>(contents.size())));
  if (bio == nullptr) return SslError("cannot buffer", file);
  return bio;
}

// Never prompts on the terminal for a passphrase: an encrypted key is an error instead.
int NoPassphrase(char* /*buffer*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return 0; }

absl::StatusOr<X509Ptr> LoadCertificate(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string pem, ReadWholeFile(path));
  ASSIGN_OR_RETURN(BioPtr bio, ReadOnlyBio(pem, path));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  if (cert == nullptr) return SslError("no PEM certificate in", path);
  return cert;
}

absl::StatusOr<EvpPkeyPtr> LoadKey(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string pem, ReadWholeFile(path));
  ASSIGN_OR_RETURN(BioPtr bio, ReadOnlyBio(pem, path));
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr) return SslError("no unencrypted PEM private key in", path);
  return key;
}

absl::StatusOr<X509CrlPtr> LoadCrl(const std::string& path) {
  ASSIGN_OR_RETURN(const std::string pem, ReadWholeFile(path));
  ASSIGN_OR_RETURN(BioPtr bio, ReadOnlyBio(pem, path));
  X509CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, NoPassphrase, nullptr));
  if (crl == nullptr) return SslError("no PEM CRL in", path);
  return crl;
}

struct Ca {
  X509Ptr cert;
  EvpPkeyPtr key;
};

// The CA's certificate and key, checked to be a CA and to belong together.
absl::StatusOr<Ca> LoadCa(const std::string& cert_path, const std::string& key_path) {
  Ca ca;
  ASSIGN_OR_RETURN(ca.cert, LoadCertificate(cert_path));
  ASSIGN_OR_RETURN(ca.key, LoadKey(key_path));
  if (X509_check_ca(ca.cert.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("'", cert_path, "' is not a CA certificate (no basicConstraints CA:TRUE)"));
  }
  if (X509_check_private_key(ca.cert.get(), ca.key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("'", key_path, "' is not the key of the certificate in '", cert_path, "'"));
  }
  return ca;
}

// A PEM text produced by `write` into a memory BIO.
template <typename Write>
absl::StatusOr<std::string> ToPem(Write write, absl::string_view what, absl::string_view file) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || write(bio.get()) != 1) return SslError(what, file);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

absl::Status WriteKey(EVP_PKEY* key, const std::string& path) {
  ASSIGN_OR_RETURN(const std::string pem, ToPem(
                                              [key](BIO* bio) {
                                                return PEM_write_bio_PrivateKey(bio, key, nullptr,
                                                                                nullptr, 0, nullptr,
                                                                                nullptr);
                                              },
                                              "cannot encode the key for", path));
  return WriteFileAtomically(path, pem, kKeyMode);
}

absl::Status WriteCertificate(X509* cert, const std::string& path) {
  ASSIGN_OR_RETURN(const std::string pem,
                   ToPem([cert](BIO* bio) { return PEM_write_bio_X509(bio, cert); },
                         "cannot encode the certificate for", path));
  return WriteFileAtomically(path, pem, kPublicMode);
}

absl::StatusOr<EvpPkeyPtr> NewKey(absl::string_view file) {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (key == nullptr) return SslError("cannot generate a P-256 key for", file);
  return key;
}

// 16 random bytes with the top bit clear (a DER INTEGER serial must be positive) and the
// next one set (so it is never zero and always 16 bytes long): 126 random bits, far beyond
// the 64 the CA/Browser Forum asks for.
absl::Status SetRandomSerial(X509* cert, absl::string_view file) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return SslError("no random serial for", file);
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);
  BignumPtr number(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (number == nullptr ||
      BN_to_ASN1_INTEGER(number.get(), X509_get_serialNumber(cert)) == nullptr) {
    return SslError("cannot set the serial of", file);
  }
  return absl::OkStatus();
}

absl::Status SetValidity(X509* cert, absl::Time not_before, absl::Time not_after,
                         absl::string_view file) {
  if (not_after <= not_before) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", file, "': not_after (", absl::FormatTime(not_after),
                     ") is not after not_before (", absl::FormatTime(not_before), ")"));
  }
  if (ASN1_TIME_set(X509_getm_notBefore(cert), absl::ToTimeT(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert), absl::ToTimeT(not_after)) == nullptr) {
    return SslError("cannot set the validity of", file);
  }
  return absl::OkStatus();
}

// The subject's CN. 64 characters at most (X.520's bound, which OpenSSL enforces): peers
// are told apart by the identity URI, so a longer name is cut in the CN alone.
absl::StatusOr<X509NamePtr> CommonName(absl::string_view common_name, absl::string_view file) {
  const std::string cn(common_name.substr(0, 64));
  X509NamePtr name(X509_NAME_new());
  if (name == nullptr ||
      X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.data()),
                                 static_cast<int>(cn.size()), -1, 0) != 1) {
    return SslError(absl::StrCat("cannot use '", cn, "' as the common name of"), file);
  }
  return name;
}

// A certificate with version, serial, validity, subject and public key set.
absl::StatusOr<X509Ptr> NewCertificate(EVP_PKEY* key, absl::string_view common_name,
                                       absl::Time not_before, absl::Time not_after,
                                       absl::string_view file) {
  X509Ptr cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return SslError("cannot create the certificate for", file);
  }
  RETURN_IF_ERROR(SetRandomSerial(cert.get(), file));
  RETURN_IF_ERROR(SetValidity(cert.get(), not_before, not_after, file));
  ASSIGN_OR_RETURN(X509NamePtr subject, CommonName(common_name, file));
  if (X509_set_subject_name(cert.get(), subject.get()) != 1) {
    return SslError("cannot set the subject of", file);
  }
  return cert;
}

// One extension in openssl.cnf syntax ("critical,CA:TRUE"), resolved against `context`.
absl::Status AddExtension(X509* cert, X509V3_CTX* context, int nid, const char* value,
                          absl::string_view file) {
  X509ExtensionPtr extension(X509V3_EXT_nconf_nid(nullptr, context, nid, value));
  if (extension == nullptr || X509_add_ext(cert, extension.get(), -1) != 1) {
    return SslError(absl::StrCat("cannot add ", OBJ_nid2sn(nid), " '", value, "' to"), file);
  }
  return absl::OkStatus();
}

absl::Status CheckDnsName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= 253;
  for (char c : name) {
    ok = ok && (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
                c == '*' || c == '_');
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("DNS name '", name, "' must be 1 to 253 of [A-Za-z0-9.-_*]"));
}

bool IsIpAddress(const std::string& text) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

// subjectAltName: the identity URI, then the DNS names, then the IP addresses.
absl::Status AddSubjectAltNames(X509* cert, const CertificateRequest& request,
                                absl::string_view file) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (names == nullptr) return SslError("cannot allocate the SANs of", file);
  auto add = [&](int type, const std::string& value) -> absl::Status {
    GeneralNamePtr name(a2i_GENERAL_NAME(nullptr, nullptr, nullptr, type, value.c_str(), 0));
    if (name == nullptr || sk_GENERAL_NAME_push(names.get(), name.get()) == 0) {
      return SslError(absl::StrCat("cannot add the SAN '", value, "' to"), file);
    }
    name.release();  // the stack owns it now
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(add(GEN_URI, IdentityUri(request.identity)));
  for (const std::string& dns : request.dns_names) {
    if (absl::Status s = CheckDnsName(dns); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("'", file, "': ", s.message()));
    }
    RETURN_IF_ERROR(add(GEN_DNS, dns));
  }
  for (const std::string& ip : request.ip_addresses) {
    if (!IsIpAddress(ip)) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", file, "': '", ip, "' is not an IPv4 or IPv6 address"));
    }
    RETURN_IF_ERROR(add(GEN_IPADD, ip));
  }
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return SslError("cannot add the SANs to", file);
  }
  return absl::OkStatus();
}

absl::Status CheckIdentity(const Identity& identity, absl::string_view file) {
  const std::string uri = IdentityUri(identity);
  absl::StatusOr<Identity> parsed = ParseIdentityUri(uri);
  if (uri.empty() || !parsed.ok() || !(*parsed == identity)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", file, "': not a valid identity",
                     parsed.ok() || uri.empty() ? std::string()
                                                : absl::StrCat(": ", parsed.status().message())));
  }
  return absl::OkStatus();
}

// `cert` was signed by `ca`: names match and the signature verifies with the CA's key.
bool IssuedBy(X509* cert, X509* ca) {
  const bool issued =
      X509_check_issued(ca, cert) == X509_V_OK && X509_verify(cert, X509_get0_pubkey(ca)) == 1;
  ERR_clear_error();
  return issued;
}

absl::StatusOr<Asn1TimePtr> Asn1Time(absl::Time time, absl::string_view file) {
  Asn1TimePtr out(ASN1_TIME_set(nullptr, absl::ToTimeT(time)));
  if (out == nullptr) return SslError("cannot encode a time for", file);
  return out;
}

// The CRL number after `previous`'s (1 for the first CRL).
absl::StatusOr<Asn1IntegerPtr> NextCrlNumber(X509_CRL* previous, absl::string_view file) {
  BignumPtr number(BN_new());
  if (number == nullptr) return SslError("cannot number the CRL", file);
  if (previous != nullptr) {
    Asn1IntegerPtr old(static_cast<ASN1_INTEGER*>(
        X509_CRL_get_ext_d2i(previous, NID_crl_number, nullptr, nullptr)));
    if (old != nullptr && ASN1_INTEGER_to_BN(old.get(), number.get()) == nullptr) {
      return SslError("cannot read the CRL number of", file);
    }
  }
  if (BN_add_word(number.get(), 1) != 1) return SslError("cannot number the CRL", file);
  Asn1IntegerPtr next(BN_to_ASN1_INTEGER(number.get(), nullptr));
  if (next == nullptr) return SslError("cannot number the CRL", file);
  return next;
}

// A new CRL holding `previous`'s entries (if any) and `serial` (unless already there).
absl::StatusOr<X509CrlPtr> NewCrl(const Ca& ca, X509_CRL* previous, const ASN1_INTEGER* serial,
                                  absl::string_view file) {
  X509CrlPtr crl(X509_CRL_new());
  if (crl == nullptr || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.cert.get())) != 1) {
    return SslError("cannot create the CRL", file);
  }
  bool listed = false;
  if (previous != nullptr) {
    STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(previous);
    for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i) {
      const X509_REVOKED* entry = sk_X509_REVOKED_value(entries, i);
      listed = listed || ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(entry), serial) == 0;
      X509RevokedPtr copy(X509_REVOKED_dup(entry));
      if (copy == nullptr || X509_CRL_add0_revoked(crl.get(), copy.get()) != 1) {
        return SslError("cannot copy the entries of", file);
      }
      copy.release();  // the CRL owns it now
    }
  }
  const absl::Time now = absl::Now();
  ASSIGN_OR_RETURN(Asn1TimePtr this_update, Asn1Time(now, file));
  ASSIGN_OR_RETURN(Asn1TimePtr next_update, Asn1Time(now + kCrlValidity, file));
  if (!listed) {
    X509RevokedPtr entry(X509_REVOKED_new());
    // set_serialNumber copies, but takes a non-const pointer.
    Asn1IntegerPtr serial_copy(ASN1_INTEGER_dup(serial));
    if (entry == nullptr || serial_copy == nullptr ||
        X509_REVOKED_set_serialNumber(entry.get(), serial_copy.get()) != 1 ||
        X509_REVOKED_set_revocationDate(entry.get(), this_update.get()) != 1 ||
        X509_CRL_add0_revoked(crl.get(), entry.get()) != 1) {
      return SslError("cannot add the serial to", file);
    }
    entry.release();  // the CRL owns it now
  }
  ASSIGN_OR_RETURN(Asn1IntegerPtr number, NextCrlNumber(previous, file));
  X509V3_CTX context;
  X509V3_set_ctx(&context, ca.cert.get(), nullptr, nullptr, crl.get(), 0);
  X509ExtensionPtr authority_key(
      X509V3_EXT_nconf_nid(nullptr, &context, NID_authority_key_identifier, "keyid:always"));
  if (X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1 ||
      X509_CRL_sort(crl.get()) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, X509V3_ADD_DEFAULT) != 1 ||
      authority_key == nullptr || X509_CRL_add_ext(crl.get(), authority_key.get(), -1) != 1) {
    return SslError("cannot fill in the CRL", file);
  }
  if (X509_CRL_sign(crl.get(), ca.key.get(), EVP_sha256()) <= 0) {
    return SslError("cannot sign the CRL", file);
  }
  return crl;
}

std::string GeneralNameText(const GENERAL_NAME* name) {
  int type = 0;
  const auto* value = static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(name, &type));
  const unsigned char* data = ASN1_STRING_get0_data(value);
  const int size = ASN1_STRING_length(value);
  if (type != GEN_IPADD) return std::string(reinterpret_cast<const char*>(data), size);
  char text[INET6_ADDRSTRLEN] = "?";
  if (size == 4 || size == 16) inet_ntop(size == 4 ? AF_INET : AF_INET6, data, text, sizeof(text));
  return text;
}

}  // namespace

absl::Status CreateCa(const std::string& cert_path, const std::string& key_path,
                      absl::string_view common_name, absl::Time not_before, absl::Time not_after) {
  ERR_clear_error();
  if (common_name.empty() || common_name.size() > 64) {
    return absl::InvalidArgumentError(absl::StrCat("'", cert_path, "': the CA name '", common_name,
                                                   "' must have 1 to 64 characters"));
  }
  ASSIGN_OR_RETURN(EvpPkeyPtr key, NewKey(key_path));
  ASSIGN_OR_RETURN(X509Ptr cert,
                   NewCertificate(key.get(), common_name, not_before, not_after, cert_path));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1) {
    return SslError("cannot set the issuer of", cert_path);
  }
  X509V3_CTX context;
  X509V3_set_ctx(&context, cert.get(), cert.get(), nullptr, nullptr, 0);
  RETURN_IF_ERROR(
      AddExtension(cert.get(), &context, NID_basic_constraints, "critical,CA:TRUE", cert_path));
  RETURN_IF_ERROR(
      AddExtension(cert.get(), &context, NID_key_usage, "critical,keyCertSign,cRLSign", cert_path));
  RETURN_IF_ERROR(
      AddExtension(cert.get(), &context, NID_subject_key_identifier, "hash", cert_path));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) {
    return SslError("cannot sign", cert_path);
  }
  // The key first: a certificate on disk always has its key next to it.
  RETURN_IF_ERROR(WriteKey(key.get(), key_path));
  return WriteCertificate(cert.get(), cert_path);
}

absl::StatusOr<std::string> IssueCertificate(const std::string& ca_cert_path,
                                             const std::string& ca_key_path,
                                             const CertificateRequest& request,
                                             const std::string& cert_path,
                                             const std::string& key_path) {
  ERR_clear_error();
  RETURN_IF_ERROR(CheckIdentity(request.identity, cert_path));
  ASSIGN_OR_RETURN(const Ca ca, LoadCa(ca_cert_path, ca_key_path));
  ASSIGN_OR_RETURN(EvpPkeyPtr key, NewKey(key_path));
  const std::string common_name = request.identity.kind == PeerKind::kScheduler
                                      ? std::string("cosched-scheduler")
                                      : request.identity.name;
  ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(key.get(), common_name, request.not_before,
                                                request.not_after, cert_path));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.cert.get())) != 1) {
    return SslError("cannot set the issuer of", cert_path);
  }
  X509V3_CTX context;
  X509V3_set_ctx(&context, ca.cert.get(), cert.get(), nullptr, nullptr, 0);
  RETURN_IF_ERROR(
      AddExtension(cert.get(), &context, NID_basic_constraints, "critical,CA:FALSE", cert_path));
  RETURN_IF_ERROR(
      AddExtension(cert.get(), &context, NID_key_usage, "critical,digitalSignature", cert_path));
  RETURN_IF_ERROR(
      AddExtension(cert.get(), &context, NID_ext_key_usage, "serverAuth,clientAuth", cert_path));
  RETURN_IF_ERROR(
      AddExtension(cert.get(), &context, NID_subject_key_identifier, "hash", cert_path));
  RETURN_IF_ERROR(
      AddExtension(cert.get(), &context, NID_authority_key_identifier, "keyid:always", cert_path));
  RETURN_IF_ERROR(AddSubjectAltNames(cert.get(), request, cert_path));
  if (X509_sign(cert.get(), ca.key.get(), EVP_sha256()) <= 0) {
    return SslError("cannot sign", cert_path);
  }
  RETURN_IF_ERROR(WriteKey(key.get(), key_path));
  RETURN_IF_ERROR(WriteCertificate(cert.get(), cert_path));
  return SerialHex(X509_get0_serialNumber(cert.get()));
}

absl::Status RevokeCertificate(const std::string& ca_cert_path, const std::string& ca_key_path,
                               const std::string& cert_path, const std::string& crl_path) {
  ERR_clear_error();
  ASSIGN_OR_RETURN(const Ca ca, LoadCa(ca_cert_path, ca_key_path));
  ASSIGN_OR_RETURN(X509Ptr cert, LoadCertificate(cert_path));
  if (X509_cmp(cert.get(), ca.cert.get()) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", cert_path, "' is the CA itself; to retire a CA, create a new one and reissue"));
  }
  if (!IssuedBy(cert.get(), ca.cert.get())) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", cert_path, "' was not issued by the CA in '", ca_cert_path, "'"));
  }
  X509CrlPtr previous;
  if (::access(crl_path.c_str(), F_OK) == 0) {
    ASSIGN_OR_RETURN(previous, LoadCrl(crl_path));
    const bool signed_by_ca = X509_NAME_cmp(X509_CRL_get_issuer(previous.get()),
                                            X509_get_subject_name(ca.cert.get())) == 0 &&
                              X509_CRL_verify(previous.get(), X509_get0_pubkey(ca.cert.get())) == 1;
    ERR_clear_error();
    if (!signed_by_ca) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", crl_path, "' was not signed by the CA in '", ca_cert_path, "'"));
    }
  } else if (errno != ENOENT) {
    return ErrnoError("cannot look for", crl_path);
  }
  ASSIGN_OR_RETURN(X509CrlPtr crl,
                   NewCrl(ca, previous.get(), X509_get0_serialNumber(cert.get()), crl_path));
  ASSIGN_OR_RETURN(const std::string pem,
                   ToPem([&crl](BIO* bio) { return PEM_write_bio_X509_CRL(bio, crl.get()); },
                         "cannot encode the CRL", crl_path));
  return WriteFileAtomically(crl_path, pem, kPublicMode);
}

absl::StatusOr<CertificateInfo> ReadCertificate(const std::string& path) {
  ERR_clear_error();
  ASSIGN_OR_RETURN(X509Ptr cert, LoadCertificate(path));
  CertificateInfo info;
  info.serial_hex = SerialHex(X509_get0_serialNumber(cert.get()));
  info.not_before = ToTime(X509_get0_notBefore(cert.get()));
  info.not_after = ToTime(X509_get0_notAfter(cert.get()));
  info.is_ca = X509_check_ca(cert.get()) == 1;
  const X509_NAME* subject = X509_get_subject_name(cert.get());
  const int cn = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (cn >= 0) {
    unsigned char* utf8 = nullptr;
    const int size =
        ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, cn)));
    if (size >= 0) info.common_name.assign(reinterpret_cast<const char*>(utf8), size);
    OPENSSL_free(utf8);
  }
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    switch (name->type) {
      case GEN_URI:
        info.uris.push_back(GeneralNameText(name));
        break;
      case GEN_DNS:
        info.dns_names.push_back(GeneralNameText(name));
        break;
      case GEN_IPADD:
        info.ip_addresses.push_back(GeneralNameText(name));
        break;
      default:
        break;
    }
  }
  ERR_clear_error();
  return info;
}

absl::StatusOr<std::vector<std::string>> ReadRevokedSerials(const std::string& crl_path) {
  ERR_clear_error();
  ASSIGN_OR_RETURN(X509CrlPtr crl, LoadCrl(crl_path));
  std::vector<std::string> serials;
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl.get());
  for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i) {
    serials.push_back(SerialHex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(entries, i))));
  }
  return serials;
}

}  // namespace cosched::tls
