#pragma once
// Chained block hashes of a token sequence, as llm-d's approximate prefix producer computes them
// (llm-d-router pkg/epp/framework/plugins/scheduling/scorer/prefix): seed = xxhash64(target model ‖
// cache_salt); per block of `block_size` tokens (the trailing partial block included) id =
// xxhash64(little-endian uint32 tokens) and hash_i = xxhash64(LE64(id) ‖ LE64(hash_{i-1})), with hash_{-1} =
// seed. All xxhash64 seeds are 0.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace llmd::sched::plugins {

uint64_t prefix_hash_seed(std::string_view target_model, std::string_view cache_salt);

// Hashes the tokens whose little-endian uint32 encoding is `token_bytes`, zero-padded to a multiple of 4
// (see TokenizedPrompt), in blocks of `block_size` tokens (> 0). Appends at most `max_blocks` hashes
// (0 = no limit) to `out`.
void chained_block_hashes(std::string_view token_bytes, size_t block_size, size_t max_blocks, uint64_t seed,
                          std::vector<uint64_t>& out);

}  // namespace llmd::sched::plugins
