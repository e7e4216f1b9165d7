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

Digest sha256(std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  // EVP_Digest is the one-shot form of EVP_DigestInit/Update/Final; it cannot fail for SHA-256
  // short of memory exhaustion, in which case the zero digest is returned.
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
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

std::string block_hash_input(const Digest& parent, std::span<const uint32_t> tokens,
                             const std::vector<ExtraKey>* extra_keys) {
  std::string in;
  in.reserve(40 + tokens.size() * 5);
  cbor::append_array_head(in, 3);
  cbor::append_bytes(in, parent);
  cbor::append_array_head(in, tokens.size());
  for (uint32_t t : tokens) cbor::append_uint(in, t);
  if (extra_keys == nullptr) {
    cbor::append_null(in);
  } else {
    cbor::append_array_head(in, extra_keys->size());
    for (const auto& k : *extra_keys) append_extra(in, k);
  }
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
  return sha256(block_hash_input(parent ? *parent : none_hash_, tokens, extra_keys));
}

}  // namespace llmd::kvevents
