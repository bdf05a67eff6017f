// The certificates are checked with OpenSSL's own verifier and parsers, not with
// ReadCertificate alone, so the tests hold whatever our reader gets wrong.
#include "common/tls/cert_authority.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/tls/x509_util.h"
#include "tests/support/scoped_dir.h"

namespace cosched::tls {
namespace {

using ::cosched::testing::ScopedDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

using Cert = std::unique_ptr<X509, OpenSslFree<X509_free>>;
using Crl = std::unique_ptr<X509_CRL, OpenSslFree<X509_CRL_free>>;
using Store = std::unique_ptr<X509_STORE, OpenSslFree<X509_STORE_free>>;
using StoreContext = std::unique_ptr<X509_STORE_CTX, OpenSslFree<X509_STORE_CTX_free>>;
using Names = std::unique_ptr<GENERAL_NAMES, OpenSslFree<GENERAL_NAMES_free>>;

Cert ReadPemCert(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return nullptr;
  Cert cert(PEM_read_X509(file, nullptr, nullptr, nullptr));
  std::fclose(file);
  return cert;
}

Crl ReadPemCrl(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return nullptr;
  Crl crl(PEM_read_X509_CRL(file, nullptr, nullptr, nullptr));
  std::fclose(file);
  return crl;
}

// X509_V_OK, or the error X509_verify_cert stopped at, verifying `cert_path` against the CA
// in `ca_path` (and the CRL in `crl_path`, if given, with CRL checking on) for `purpose`.
int Verify(const std::string& ca_path, const std::string& cert_path,
           const std::string& crl_path = "", int purpose = X509_PURPOSE_SSL_SERVER) {
  Cert ca = ReadPemCert(ca_path);
  Cert leaf = ReadPemCert(cert_path);
  if (ca == nullptr || leaf == nullptr) return -1;
  Store store(X509_STORE_new());
  if (X509_STORE_add_cert(store.get(), ca.get()) != 1) return -2;
  if (!crl_path.empty()) {
    Crl crl = ReadPemCrl(crl_path);
    if (crl == nullptr || X509_STORE_add_crl(store.get(), crl.get()) != 1) return -3;
    X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK);
  }
  StoreContext context(X509_STORE_CTX_new());
  if (X509_STORE_CTX_init(context.get(), store.get(), leaf.get(), nullptr) != 1) return -4;
  X509_STORE_CTX_set_purpose(context.get(), purpose);
  const int verified = X509_verify_cert(context.get());
  const int error = X509_STORE_CTX_get_error(context.get());
  return verified == 1 ? X509_V_OK : (error == X509_V_OK ? -5 : error);
}

struct Sans {
  std::vector<std::string> uris, dns, ips;
};

// The SANs as OpenSSL decodes them; IP addresses as the raw bytes' dotted quad.
Sans ReadSans(const std::string& cert_path) {
  Sans sans;
  Cert cert = ReadPemCert(cert_path);
  Names names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    int type = 0;
    const auto* value = static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(name, &type));
    const std::string bytes(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                            ASN1_STRING_length(value));
    if (type == GEN_URI) sans.uris.push_back(bytes);
    if (type == GEN_DNS) sans.dns.push_back(bytes);
    if (type == GEN_IPADD && bytes.size() == 4) {
      sans.ips.push_back(absl::StrCat(
          static_cast<unsigned char>(bytes[0]), ".", static_cast<unsigned char>(bytes[1]), ".",
          static_cast<unsigned char>(bytes[2]), ".", static_cast<unsigned char>(bytes[3])));
    }
    if (type == GEN_IPADD && bytes.size() == 16) sans.ips.push_back("ipv6");
  }
  return sans;
}

// The CRL's number, as OpenSSL reads it; -1 when there is none.
long CrlNumber(const std::string& path) {
  Crl crl = ReadPemCrl(path);
  if (crl == nullptr) return -1;
  auto* number =
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, nullptr, nullptr));
  const long value = number == nullptr ? -1 : ASN1_INTEGER_get(number);
  ASN1_INTEGER_free(number);
  return value;
}

size_t RevokedCount(const std::string& crl_path) {
  Crl crl = ReadPemCrl(crl_path);
  return crl == nullptr ? 0 : sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl.get()));
}

mode_t Mode(const std::string& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return 0;
  return info.st_mode & 0777;
}

class CertAuthorityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(
        CreateCa(ca_, ca_key_, "test CA", now_ - absl::Hours(1), now_ + absl::Hours(48)).ok());
  }

  std::string Path(absl::string_view name) const { return absl::StrCat(dir_.path(), "/", name); }

  CertificateRequest Request(Identity identity) const {
    CertificateRequest request;
    request.identity = std::move(identity);
    request.not_before = now_ - absl::Minutes(5);
    request.not_after = now_ + absl::Hours(24);
    return request;
  }

  // Issues `name`.pem / `name`-key.pem from the test CA; returns the serial.
  std::string Issue(const CertificateRequest& request, absl::string_view name) {
    absl::StatusOr<std::string> serial =
        IssueCertificate(ca_, ca_key_, request, Path(absl::StrCat(name, ".pem")),
                         Path(absl::StrCat(name, "-key.pem")));
    EXPECT_TRUE(serial.ok()) << serial.status();
    return serial.ok() ? *serial : "";
  }

  ScopedDir dir_{"cert_authority"};
  const absl::Time now_ = absl::Now();
  const std::string ca_ = Path("ca.pem");
  const std::string ca_key_ = Path("ca-key.pem");
};

TEST_F(CertAuthorityTest, CaIsSelfSignedCaWithPrivateKey) {
  Cert ca = ReadPemCert(ca_);
  ASSERT_NE(ca, nullptr);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(X509_check_issued(ca.get(), ca.get()), X509_V_OK);
  const int constraints = X509_get_ext_by_NID(ca.get(), NID_basic_constraints, -1);
  ASSERT_GE(constraints, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(ca.get(), constraints)), 1);
  EXPECT_NE(X509_get_key_usage(ca.get()) & KU_KEY_CERT_SIGN, 0u);
  EXPECT_NE(X509_get_key_usage(ca.get()) & KU_CRL_SIGN, 0u);
  EXPECT_NE(X509_get0_subject_key_id(ca.get()), nullptr);
  EXPECT_EQ(Mode(ca_key_), 0600u);
  EXPECT_EQ(Mode(ca_), 0644u);
}

TEST_F(CertAuthorityTest, IssuedCertificateVerifiesForBothEndsWithItsSans) {
  CertificateRequest request = Request(NodeIdentity("vehicle", "car-1"));
  request.dns_names = {"car-1.local", "localhost"};
  request.ip_addresses = {"127.0.0.1", "10.1.2.3"};
  const std::string serial = Issue(request, "node");
  EXPECT_EQ(serial.size(), 32u);
  EXPECT_EQ(serial, absl::AsciiStrToLower(serial));

  EXPECT_EQ(Verify(ca_, Path("node.pem"), "", X509_PURPOSE_SSL_SERVER), X509_V_OK);
  EXPECT_EQ(Verify(ca_, Path("node.pem"), "", X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  const Sans sans = ReadSans(Path("node.pem"));
  EXPECT_THAT(sans.uris, ElementsAre("cosched://node/vehicle/car-1"));
  EXPECT_THAT(sans.dns, UnorderedElementsAre("car-1.local", "localhost"));
  EXPECT_THAT(sans.ips, UnorderedElementsAre("127.0.0.1", "10.1.2.3"));

  Cert cert = ReadPemCert(Path("node.pem"));
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_NE(X509_get0_authority_key_id(cert.get()), nullptr);
  EXPECT_EQ(X509_check_host(cert.get(), "car-1.local", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "10.1.2.3", 0), 1);
  EXPECT_EQ(Mode(Path("node-key.pem")), 0600u);
  EXPECT_EQ(Mode(Path("node.pem")), 0644u);

  absl::StatusOr<CertificateInfo> info = ReadCertificate(Path("node.pem"));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->serial_hex, serial);
  EXPECT_EQ(info->common_name, "car-1");
  EXPECT_THAT(info->uris, ElementsAre("cosched://node/vehicle/car-1"));
  EXPECT_THAT(info->ip_addresses, UnorderedElementsAre("127.0.0.1", "10.1.2.3"));
  EXPECT_LE(absl::AbsDuration(info->not_after - request.not_after), absl::Seconds(1));
  EXPECT_FALSE(info->is_ca);
}

TEST_F(CertAuthorityTest, KeyMatchesCertificate) {
  Issue(Request(SchedulerIdentity()), "scheduler");
  Cert cert = ReadPemCert(Path("scheduler.pem"));
  std::FILE* file = std::fopen(Path("scheduler-key.pem").c_str(), "r");
  ASSERT_NE(file, nullptr);
  EVP_PKEY* key = PEM_read_PrivateKey(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(X509_check_private_key(cert.get(), key), 1);
  EVP_PKEY_free(key);
  EXPECT_THAT(ReadSans(Path("scheduler.pem")).uris, ElementsAre("cosched://scheduler"));
}

TEST_F(CertAuthorityTest, CertificateFromAnotherCaDoesNotVerify) {
  ASSERT_TRUE(CreateCa(Path("other-ca.pem"), Path("other-ca-key.pem"), "other CA",
                       now_ - absl::Hours(1), now_ + absl::Hours(48))
                  .ok());
  ASSERT_TRUE(IssueCertificate(Path("other-ca.pem"), Path("other-ca-key.pem"),
                               Request(ClientIdentity(Role::kAdmin, "mallory")),
                               Path("mallory.pem"), Path("mallory-key.pem"))
                  .ok());
  EXPECT_EQ(Verify(ca_, Path("mallory.pem")), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  EXPECT_EQ(Verify(Path("other-ca.pem"), Path("mallory.pem")), X509_V_OK);
}

TEST_F(CertAuthorityTest, ExpiredCertificateFailsVerification) {
  CertificateRequest request = Request(ClientIdentity(Role::kRead, "old"));
  request.not_before = now_ - absl::Hours(24 * 10);
  request.not_after = now_ - absl::Hours(24 * 9);
  Issue(request, "old");
  EXPECT_EQ(Verify(ca_, Path("old.pem")), X509_V_ERR_CERT_HAS_EXPIRED);
}

TEST_F(CertAuthorityTest, RevokedCertificateFailsWithCrlCheck) {
  const std::string crl = Path("crl.pem");
  Issue(Request(NodeIdentity("datacenter", "dc-1")), "a");
  Issue(Request(NodeIdentity("datacenter", "dc-2")), "b");
  ASSERT_TRUE(RevokeCertificate(ca_, ca_key_, Path("a.pem"), crl).ok());
  EXPECT_EQ(Verify(ca_, Path("a.pem"), crl), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(Verify(ca_, Path("b.pem"), crl), X509_V_OK);
  EXPECT_EQ(Verify(ca_, Path("a.pem")), X509_V_OK);  // without the CRL nothing is revoked
  EXPECT_EQ(CrlNumber(crl), 1);
  EXPECT_EQ(Mode(crl), 0644u);

  // Twice: still one entry, a new CRL number.
  ASSERT_TRUE(RevokeCertificate(ca_, ca_key_, Path("a.pem"), crl).ok());
  EXPECT_EQ(RevokedCount(crl), 1u);
  EXPECT_EQ(CrlNumber(crl), 2);

  // A second certificate joins the first.
  ASSERT_TRUE(RevokeCertificate(ca_, ca_key_, Path("b.pem"), crl).ok());
  EXPECT_EQ(RevokedCount(crl), 2u);
  EXPECT_EQ(CrlNumber(crl), 3);
  EXPECT_EQ(Verify(ca_, Path("a.pem"), crl), X509_V_ERR_CERT_REVOKED);
  EXPECT_EQ(Verify(ca_, Path("b.pem"), crl), X509_V_ERR_CERT_REVOKED);

  absl::StatusOr<std::vector<std::string>> serials = ReadRevokedSerials(crl);
  ASSERT_TRUE(serials.ok()) << serials.status();
  EXPECT_THAT(*serials, UnorderedElementsAre(ReadCertificate(Path("a.pem"))->serial_hex,
                                             ReadCertificate(Path("b.pem"))->serial_hex));
}

TEST_F(CertAuthorityTest, RevokeRefusesCertificatesOfAnotherCa) {
  ASSERT_TRUE(CreateCa(Path("other-ca.pem"), Path("other-ca-key.pem"), "other CA",
                       now_ - absl::Hours(1), now_ + absl::Hours(48))
                  .ok());
  ASSERT_TRUE(IssueCertificate(Path("other-ca.pem"), Path("other-ca-key.pem"),
                               Request(ClientIdentity(Role::kRead, "x")), Path("x.pem"),
                               Path("x-key.pem"))
                  .ok());
  const absl::Status status = RevokeCertificate(ca_, ca_key_, Path("x.pem"), Path("crl.pem"));
  EXPECT_THAT(
      status.message(),
      HasSubstr(absl::StrCat("'", Path("x.pem"), "' was not issued by the CA in '", ca_, "'")));
  EXPECT_EQ(RevokedCount(Path("crl.pem")), 0u);

  // Nor does it extend a CRL signed by another CA.
  Issue(Request(ClientIdentity(Role::kRead, "y")), "y");
  ASSERT_TRUE(RevokeCertificate(Path("other-ca.pem"), Path("other-ca-key.pem"), Path("x.pem"),
                                Path("other-crl.pem"))
                  .ok());
  EXPECT_THAT(RevokeCertificate(ca_, ca_key_, Path("y.pem"), Path("other-crl.pem")).message(),
              HasSubstr("was not signed by the CA in"));
}

TEST_F(CertAuthorityTest, BadInputsAreRefusedNamingTheFile) {
  CertificateRequest request = Request(ClientIdentity(Role::kRead, "bad name"));
  EXPECT_THAT(
      IssueCertificate(ca_, ca_key_, request, Path("c.pem"), Path("c-key.pem")).status().message(),
      HasSubstr("client name 'bad name' may hold only"));

  request = Request(ClientIdentity(Role::kRead, "ok"));
  request.ip_addresses = {"300.1.1.1"};
  EXPECT_THAT(
      IssueCertificate(ca_, ca_key_, request, Path("c.pem"), Path("c-key.pem")).status().message(),
      HasSubstr("'300.1.1.1' is not an IPv4 or IPv6 address"));

  request = Request(ClientIdentity(Role::kRead, "ok"));
  request.not_after = request.not_before;
  EXPECT_THAT(
      IssueCertificate(ca_, ca_key_, request, Path("c.pem"), Path("c-key.pem")).status().message(),
      HasSubstr("is not after not_before"));

  // A key that is not the CA's, and a file that holds no certificate.
  Issue(Request(ClientIdentity(Role::kRead, "d")), "d");
  EXPECT_THAT(IssueCertificate(ca_, Path("d-key.pem"), Request(SchedulerIdentity()), Path("c.pem"),
                               Path("c-key.pem"))
                  .status()
                  .message(),
              HasSubstr("is not the key of the certificate in"));
  const absl::Status not_pem = ReadCertificate(Path("d-key.pem")).status();
  EXPECT_THAT(not_pem.message(),
              HasSubstr(absl::StrCat("no PEM certificate in '", Path("d-key.pem"), "'")));
  EXPECT_THAT(not_pem.message(), HasSubstr("error:"));  // OpenSSL's own reason
  EXPECT_EQ(ReadCertificate(Path("missing.pem")).status().code(), absl::StatusCode::kNotFound);
  // A leaf is no CA.
  EXPECT_THAT(IssueCertificate(Path("d.pem"), Path("d-key.pem"), Request(SchedulerIdentity()),
                               Path("c.pem"), Path("c-key.pem"))
                  .status()
                  .message(),
              HasSubstr("is not a CA certificate"));
}

TEST_F(CertAuthorityTest, ReissuingReplacesBothFiles) {
  const std::string first = Issue(Request(SchedulerIdentity()), "scheduler");
  const std::string second = Issue(Request(SchedulerIdentity()), "scheduler");
  EXPECT_NE(first, second);
  EXPECT_EQ(ReadCertificate(Path("scheduler.pem"))->serial_hex, second);
  EXPECT_EQ(Verify(ca_, Path("scheduler.pem")), X509_V_OK);
}

}  // namespace
}  // namespace cosched::tls
