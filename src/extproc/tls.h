#pragma once
// TLS material for the ext_proc port, as llm-d's EPP serves it: the certificate and key from
// --cert-path (tls.crt and tls.key), or else a self-signed certificate made at start-up.

#include <string>

#include "common/error.h"

namespace llmd::extproc {

struct TlsMaterial {
  std::string cert_pem;
  std::string key_pem;
};

// Reads <dir>/tls.crt and <dir>/tls.key (kConfig errors name the file).
Result<TlsMaterial> load_tls_material(const std::string& dir);
// A new P-256 key and a self-signed certificate for `common_name`, valid for ten years, with
// subjectAltName DNS:<common_name>, DNS:localhost and IP:127.0.0.1.
Result<TlsMaterial> self_signed_tls_material(const std::string& common_name);

}  // namespace llmd::extproc
