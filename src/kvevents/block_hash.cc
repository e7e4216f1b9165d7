#include "kvevents/block_hash.h"

#include <openssl/evp.h>

#include "kvevents/cbor.h"

namespace llmd::kvevents {

uint64_t to_u64(const Digest& d) {
  uint64_t v = 0;
  for (size_t i = d.size() - 8; i < d.size(); ++i) v = (v << 8) | d[i];
  return v;
}

std::string to_hex(const Digest& d) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (uint8_t b : d) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

namespace {

// OpenSSL 3 resolves EVP_sha256() through its provider registry on every EVP_Digest call (a name
// lookup under a read lock) and allocates a fresh context each time: several times the cost of
// hashing one block. The algorithm is fetched once, and each thread keeps one context.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

struct DigestContext {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~DigestContext() { EVP_MD_CTX_free(ctx); }
};

}  // namespace

Digest sha256(std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  thread_local DigestContext dc;
  const EVP_MD* md = sha256_md();
  // SHA-256 cannot fail short of memory exhaustion; then the zero digest is returned.
  if (dc.ctx == nullptr || md == nullptr || EVP_DigestInit_ex2(dc.ctx, md, nullptr) != 1 ||
      EVP_DigestUpdate(dc.ctx, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(dc.ctx, out.data(), &len) != 1) {
    out.fill(0);
  }
  return out;
}

namespace {

void append_extra(std::string& out, const ExtraKey& k) {
  switch (k.kind) {
    case ExtraKey::Kind::kText:
      cbor::append_text(out, k.value);
      break;
    case ExtraKey::Kind::kBytes:
      cbor::append_bytes(out, std::span(reinterpret_cast<const uint8_t*>(k.value.data()), k.value.size()));
      break;
    case ExtraKey::Kind::kMmItem:
      cbor::append_array_head(out, 2);
      cbor::append_text(out, k.value);
      if (k.offset >= 0) {
        cbor::append_uint(out, static_cast<uint64_t>(k.offset));
      } else {
        cbor::append_head(out, 1, static_cast<uint64_t>(-(k.offset + 1)));
      }
      break;
  }
}

Digest seed_hash(std::string_view seed) {
  std::string in;
  cbor::append_text(in, seed);
  return sha256(in);
}

}  // namespace

void append_block_hash_input(std::string& out, const Digest& parent, std::span<const uint32_t> tokens,
                             const std::vector<ExtraKey>* extra_keys) {
  cbor::append_array_head(out, 3);
  cbor::append_bytes(out, parent);
  // The token heads are written straight into the buffer, sized for the widest (5-byte) head and
  // trimmed after: this loop is most of a block hash's serialization.
  const size_t start = out.size();
  out.resize(start + 9 + tokens.size() * 5);
  char* p = cbor::put_head(out.data() + start, 4, tokens.size());
  for (uint32_t t : tokens) p = cbor::put_head(p, 0, t);
  out.resize(static_cast<size_t>(p - out.data()));
  if (extra_keys == nullptr) {
    cbor::append_null(out);
  } else {
    cbor::append_array_head(out, extra_keys->size());
    for (const auto& k : *extra_keys) append_extra(out, k);
  }
}

std::string block_hash_input(const Digest& parent, std::span<const uint32_t> tokens,
                             const std::vector<ExtraKey>* extra_keys) {
  std::string in;
  append_block_hash_input(in, parent, tokens, extra_keys);
  return in;
}

BlockHasher::BlockHasher(std::optional<std::string> seed, Rng& rng) : seed_(std::move(seed)) {
  if (seed_) {
    none_hash_ = seed_hash(*seed_);
  } else {
    for (size_t i = 0; i < none_hash_.size(); i += 8) {
      const uint64_t r = rng();
      for (size_t j = 0; j < 8; ++j) none_hash_[i + j] = static_cast<uint8_t>(r >> (8 * j));
    }
  }
}

BlockHasher::BlockHasher(std::string_view seed) : seed_(std::string(seed)), none_hash_(seed_hash(seed)) {}

Digest BlockHasher::hash_block(const Digest* parent, std::span<const uint32_t> tokens,
                               const std::vector<ExtraKey>* extra_keys) const {
  // Per thread, not per hasher: hash_block is const and one hasher may serve several threads.
  thread_local std::string in;
  in.clear();
  append_block_hash_input(in, parent ? *parent : none_hash_, tokens, extra_keys);
  return sha256(in);
}

}  // namespace llmd::kvevents
