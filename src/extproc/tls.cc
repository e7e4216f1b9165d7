#include "extproc/tls.h"

#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace llmd::extproc {

namespace {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kConfig, fmt::format("--cert-path: cannot read {}", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Ext = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

std::string bio_string(BIO* b) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  return std::string(data, static_cast<size_t>(n));
}

Error tls_error(std::string_view what) {
  return Error(ErrorCode::kInternal, fmt::format("self-signed certificate: {} failed", what));
}

}  // namespace

Result<TlsMaterial> load_tls_material(const std::string& dir) {
  TlsMaterial m;
  auto cert = read_file(dir + "/tls.crt");
  if (!cert) return cert.error();
  auto key = read_file(dir + "/tls.key");
  if (!key) return key.error();
  m.cert_pem = std::move(*cert);
  m.key_pem = std::move(*key);
  return m;
}

Result<TlsMaterial> self_signed_tls_material(const std::string& common_name) {
  Key key(EVP_EC_gen("P-256"));
  if (!key) return tls_error("key generation");
  Cert cert(X509_new());
  if (!cert) return tls_error("X509_new");
  X509_set_version(cert.get(), 2);
  // A random 64-bit serial, as certificates must not reuse one.
  unsigned char serial[8];
  if (RAND_bytes(serial, sizeof serial) != 1) return tls_error("RAND_bytes");
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  if (bn == nullptr || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) == nullptr) {
    BN_free(bn);
    return tls_error("serial");
  }
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("llmd"), -1, -1,
                             0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::string san = fmt::format("DNS:{},DNS:localhost,IP:127.0.0.1", common_name);
  Ext ext(X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str()));
  if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1) return tls_error("subjectAltName");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return tls_error("signing");
  Bio cert_bio(BIO_new(BIO_s_mem()));
  Bio key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio || PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return tls_error("PEM encoding");
  }
  return TlsMaterial{bio_string(cert_bio.get()), bio_string(key_bio.get())};
}

}  // namespace llmd::extproc
