#pragma once
// Data that producers publish in the CycleState and the keys they publish it under. A consumer names
// the keys it needs (Plugin::consumes()); the config builder orders producers by these keys and
// auto-creates the default producer of a key that nobody produces, as llm-d's config loader does.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace llmd::sched {

// Written by token-producer.
inline constexpr std::string_view kTokenizedPromptKey = "tokenized-prompt";
// Written by inflight-load-producer.
inline constexpr std::string_view kInflightLoadKey = "inflight-load";
// Written by a prefix producer under its instance name: "prefix-match-info/<name>".
std::string prefix_match_key(std::string_view producer_name);
inline constexpr std::string_view kDefaultPrefixProducer = "approx-prefix-cache-producer";
// prefix_match_key(kDefaultPrefixProducer), spelled out so per-request lookups build no string.
inline constexpr std::string_view kDefaultPrefixMatchKey = "prefix-match-info/approx-prefix-cache-producer";

// The prompt as tokens: token i is the little-endian uint32 at byte 4i of `bytes`, zero-padded to a
// multiple of 4 (the estimate backend's pseudo-tokens are the prompt bytes themselves). `bytes` points
// into `owned`, or into the request to spare a copy of a large prompt: the data plane keeps the request
// alive until the response hooks have run, so it outlives the cycle.
struct TokenizedPrompt {
  std::string owned;
  std::string_view bytes;

  size_t size() const { return (bytes.size() + 3) / 4; }
  uint32_t token(size_t i) const {
    uint32_t v = 0;
    for (size_t b = 0; b < 4 && 4 * i + b < bytes.size(); ++b) {
      v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[4 * i + b])) << (8 * b);
    }
    return v;
  }
};

struct PrefixCacheMatchInfo {
  int64_t match_blocks = 0;  // blocks of this request cached on the endpoint (contiguous prefix)
  int64_t total_blocks = 0;  // blocks in this request
  int64_t block_size_tokens = 0;
  int64_t cached_block_count = 0;  // equals match_blocks for the approximate producer
};

struct PrefixMatchData {
  std::vector<PrefixCacheMatchInfo> by_candidate;  // indexed by Candidate::index
  // The request's chained block hashes, kept for the post-scheduling index update.
  std::shared_ptr<const std::vector<uint64_t>> hashes;
  int64_t block_size_tokens = 0;
};

struct InflightLoad {
  int64_t requests = 0;
  int64_t tokens = 0;
};

struct InflightData {
  std::vector<InflightLoad> by_candidate;  // indexed by Candidate::index
};

}  // namespace llmd::sched
