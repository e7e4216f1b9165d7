#include "kvevents/wire.h"

#include <charconv>

namespace llmd::kvevents {

std::string encode_seq(uint64_t seq) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((seq >> (8 * (7 - i))) & 0xff);
  return out;
}

std::optional<uint64_t> decode_seq(std::string_view frame) {
  if (frame.size() < 8) return std::nullopt;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(frame[i]);
  return v;
}

std::string make_topic(std::string_view pod, std::string_view model) {
  std::string t = "kv@";
  t.append(pod);
  t.push_back('@');
  t.append(model);
  return t;
}

TopicParts parse_topic(std::string_view topic) {
  const size_t a = topic.find('@');
  const size_t b = a == std::string_view::npos ? a : topic.find('@', a + 1);
  if (b != std::string_view::npos && topic.find('@', b + 1) == std::string_view::npos) {
    return TopicParts{std::string(topic.substr(a + 1, b - a - 1)), std::string(topic.substr(b + 1))};
  }
  return TopicParts{std::string(topic), {}};
}

bool endpoint_binds(std::string_view endpoint) {
  return endpoint.find('*') != std::string_view::npos || endpoint.find("::") != std::string_view::npos ||
         endpoint.starts_with("ipc://") || endpoint.starts_with("inproc://");
}

std::optional<std::string> offset_endpoint(std::string_view endpoint, int offset) {
  if (offset == 0) return std::string(endpoint);
  if (endpoint.starts_with("ipc://") || endpoint.starts_with("inproc://")) {
    return std::string(endpoint) + "_dp" + std::to_string(offset);
  }
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view port_str = endpoint.substr(colon + 1);
  unsigned port = 0;
  const auto [ptr, ec] = std::from_chars(port_str.data(), port_str.data() + port_str.size(), port);
  if (ec != std::errc() || ptr != port_str.data() + port_str.size() || port_str.empty()) return std::nullopt;
  const long next = static_cast<long>(port) + offset;
  if (next < 0 || next > 65535) return std::nullopt;
  return std::string(endpoint.substr(0, colon + 1)) + std::to_string(next);
}

}  // namespace llmd::kvevents
