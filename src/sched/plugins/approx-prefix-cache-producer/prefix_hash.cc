#include "sched/plugins/approx-prefix-cache-producer/prefix_hash.h"

#include <algorithm>
#include <string>

// XXH64_state_t's definition, for streaming the zero padding without a copy.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

namespace llmd::sched::plugins {
namespace {

void put_le64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

// xxhash64 of `bytes` followed by zeros up to a multiple of 4, without copying.
uint64_t hash_padded(std::string_view bytes) {
  const size_t pad = (4 - bytes.size() % 4) % 4;
  if (pad == 0) return XXH64(bytes.data(), bytes.size(), 0);
  XXH64_state_t state;
  XXH64_reset(&state, 0);
  XXH64_update(&state, bytes.data(), bytes.size());
  static constexpr unsigned char kZeros[4] = {0, 0, 0, 0};
  XXH64_update(&state, kZeros, pad);
  return XXH64_digest(&state);
}

}  // namespace

uint64_t prefix_hash_seed(std::string_view target_model, std::string_view cache_salt) {
  std::string buf;
  buf.reserve(target_model.size() + cache_salt.size());
  buf.append(target_model).append(cache_salt);
  return XXH64(buf.data(), buf.size(), 0);
}

void chained_block_hashes(std::string_view token_bytes, size_t block_size, size_t max_blocks, uint64_t seed,
                          std::vector<uint64_t>& out) {
  if (block_size == 0 || token_bytes.empty()) return;
  const size_t block_bytes = 4 * block_size;
  size_t blocks = (token_bytes.size() + block_bytes - 1) / block_bytes;
  if (max_blocks != 0) blocks = std::min(blocks, max_blocks);
  out.reserve(out.size() + blocks);
  uint64_t prev = seed;
  unsigned char buf[16];
  for (size_t i = 0; i < blocks; ++i) {
    put_le64(buf, hash_padded(token_bytes.substr(i * block_bytes, block_bytes)));
    put_le64(buf + 8, prev);
    prev = XXH64(buf, sizeof buf, 0);
    out.push_back(prev);
  }
}

}  // namespace llmd::sched::plugins
