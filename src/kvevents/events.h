#pragma once
// vLLM KV-cache events (vllm/distributed/kv_events.py) and their msgpack batch encoding, in both
// the field-name map form (vLLM >= 0.26, the default) and the legacy positional array form.
// The batch envelope is always the positional array [ts, events, data_parallel_rank].
//
// Encoding follows msgspec's `omit_defaults`: in the map form any field equal to its default is left
// out; in the array form only trailing defaults are. Fields without a default are always written.
// Decoding accepts either form for each event (and a map envelope defensively), any integer width,
// int or bytes block hashes (bytes fold to their last 8 bytes big-endian), and skips unknown event
// tags and unknown fields instead of failing the batch.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/error.h"
#include "kvevents/block_hash.h"

namespace llmd::kvevents {

inline constexpr std::string_view kMediumGpu = "GPU";

// Per block: nullopt when the block has no extra keys, else its keys (LoRA name, cache salt, ...).
using BlockExtraKeys = std::optional<std::vector<ExtraKey>>;

struct BlockStored {
  std::vector<uint64_t> block_hashes;
  std::optional<uint64_t> parent_block_hash;
  std::vector<uint32_t> token_ids;
  int64_t block_size = 0;
  std::optional<int64_t> lora_id;
  std::optional<std::string> medium;
  std::optional<std::string> lora_name;
  std::optional<std::vector<BlockExtraKeys>> extra_keys;
  std::optional<int64_t> group_idx;
  std::optional<std::string> kv_cache_spec_kind;
  std::optional<int64_t> kv_cache_spec_sliding_window;
  std::optional<std::string> locality;
  bool operator==(const BlockStored&) const = default;
};

struct BlockRemoved {
  std::vector<uint64_t> block_hashes;
  std::optional<std::string> medium;
  std::optional<int64_t> group_idx;
  std::optional<std::string> locality;
  bool operator==(const BlockRemoved&) const = default;
};

struct AllBlocksCleared {
  bool operator==(const AllBlocksCleared&) const = default;
};

using Event = std::variant<BlockStored, BlockRemoved, AllBlocksCleared>;

struct EventBatch {
  double ts = 0;  // seconds since the Unix epoch
  std::vector<Event> events;
  std::optional<int64_t> data_parallel_rank;
  bool operator==(const EventBatch&) const = default;
};

enum class Encoding {
  kMap,    // vLLM >= 0.26 (PR #42892): each event is a map with its tag under "type"
  kArray,  // legacy: each event is an array whose element 0 is the tag
};

// Appends the msgpack encoding of `batch` to `out`.
void encode_batch(const EventBatch& batch, Encoding encoding, std::string& out);
std::string encode_batch(const EventBatch& batch, Encoding encoding);

struct DecodedBatch {
  EventBatch batch;
  size_t skipped_events = 0;  // unknown tags or malformed events, left out of batch.events
};

// Errors: kProtocol when the envelope is not a msgpack array/map with a float ts and an event list.
Result<DecodedBatch> decode_batch(std::string_view payload);

}  // namespace llmd::kvevents
