#pragma once
// vLLM's prefix-cache block hash with `--prefix-caching-hash-algo sha256_cbor`, so that simulated
// engines publish the same BlockStored hashes as a real vLLM given the same tokens and seed.
//
//   hash_i = SHA-256( canonical_cbor([parent_digest, [token...], extra_keys_i or null]) )
//
// where parent_digest is the previous block's full 32-byte digest, or NONE_HASH for block 0.
// NONE_HASH follows vLLM's PYTHONHASHSEED rule: seed set → sha256(cbor(seed as text));
// seed unset → 32 random bytes (so hashes differ per process). Events carry the digest truncated
// to its low 64 bits read big-endian (the last 8 bytes), as VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=1.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/random.h"

namespace llmd::kvevents {

using Digest = std::array<uint8_t, 32>;

// One element of a block's extra keys (vLLM `generate_block_hash_extra_keys`): a LoRA name or a
// cache_salt (text), a prompt-embeds digest (bytes), or a multimodal item (identifier, offset).
struct ExtraKey {
  enum class Kind : uint8_t { kText, kBytes, kMmItem };
  Kind kind = Kind::kText;
  std::string value;
  int64_t offset = 0;  // kMmItem only

  static ExtraKey text(std::string v) { return ExtraKey{Kind::kText, std::move(v), 0}; }
  static ExtraKey bytes(std::string v) { return ExtraKey{Kind::kBytes, std::move(v), 0}; }
  static ExtraKey mm_item(std::string id, int64_t offset) {
    return ExtraKey{Kind::kMmItem, std::move(id), offset};
  }
  bool operator==(const ExtraKey&) const = default;
};

// Low 64 bits of the digest, big-endian: what vLLM puts on the wire.
uint64_t to_u64(const Digest& d);
std::string to_hex(const Digest& d);

// SHA-256 through OpenSSL's EVP interface.
Digest sha256(std::string_view data);

// The canonical CBOR bytes a block hash is computed over, appended to `out` (the hasher reuses one
// buffer), or returned (for golden tests).
void append_block_hash_input(std::string& out, const Digest& parent, std::span<const uint32_t> tokens,
                             const std::vector<ExtraKey>* extra_keys);
std::string block_hash_input(const Digest& parent, std::span<const uint32_t> tokens,
                             const std::vector<ExtraKey>* extra_keys);

class BlockHasher {
 public:
  // `seed`: the PYTHONHASHSEED value, or nullopt for "unset" (NONE_HASH drawn from `rng`).
  BlockHasher(std::optional<std::string> seed, Rng& rng);
  explicit BlockHasher(std::string_view seed);

  const Digest& none_hash() const { return none_hash_; }
  const std::optional<std::string>& seed() const { return seed_; }

  // Hash of one full block; `parent` null means the first block (NONE_HASH is used). `extra_keys`
  // null encodes as CBOR null, which is what vLLM passes for a block without extra keys; an empty
  // vector encodes as an empty array (an empty tuple, which vLLM never passes).
  Digest hash_block(const Digest* parent, std::span<const uint32_t> tokens,
                    const std::vector<ExtraKey>* extra_keys) const;

  // Hashes of every full block of `tokens`, chained; `extra_for_block(i)` returns the extra keys of
  // block i (or null). Appends to `out`, continuing the chain after out's last element.
  template <class ExtraFn>
  void hash_blocks(std::span<const uint32_t> tokens, size_t block_size, ExtraFn&& extra_for_block,
                   std::vector<Digest>& out) const {
    for (size_t i = out.size(); (i + 1) * block_size <= tokens.size(); ++i) {
      const Digest* parent = out.empty() ? nullptr : &out.back();
      out.push_back(hash_block(parent, tokens.subspan(i * block_size, block_size), extra_for_block(i)));
    }
  }

 private:
  std::optional<std::string> seed_;
  Digest none_hash_{};
};

}  // namespace llmd::kvevents
