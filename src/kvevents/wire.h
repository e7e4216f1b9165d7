#pragma once
// The ZMQ side of vLLM's KV-event transport: the three-frame message [topic, seq, payload], the
// topic convention `kv@<pod>@<model>`, the bind/connect rule, the per-rank port offset, and the
// replay protocol's request and end marker. Socket handling itself is left to the caller.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmd::kvevents {

// Sequence number of the replay end marker (-1 as a signed 8-byte big-endian integer).
inline constexpr uint64_t kReplayEndSeq = ~uint64_t{0};

// 8-byte big-endian frame.
std::string encode_seq(uint64_t seq);
// The first 8 bytes big-endian; nullopt when the frame is shorter.
std::optional<uint64_t> decode_seq(std::string_view frame);

// "kv@<pod>@<model>", pod being "<ip>:<port>".
std::string make_topic(std::string_view pod, std::string_view model);

struct TopicParts {
  std::string pod;
  std::string model;
};
// llm-d's rule: exactly three '@'-separated parts give pod = part 1 and model = part 2; anything
// else is taken whole as the pod id, with an empty model.
TopicParts parse_topic(std::string_view topic);

// vLLM binds when the endpoint contains '*' or "::" or is ipc:// or inproc://; otherwise it connects.
bool endpoint_binds(std::string_view endpoint);

// The endpoint for data-parallel rank (or replica) `offset`: tcp ports move up by `offset`,
// ipc/inproc endpoints get the suffix "_dp<offset>". Offset 0 returns the endpoint unchanged;
// nullopt when a tcp endpoint has no numeric port or the result overflows 65535.
std::optional<std::string> offset_endpoint(std::string_view endpoint, int offset);

}  // namespace llmd::kvevents
