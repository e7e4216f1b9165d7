// Fuzzes the response path of the runner: SSE bytes split at arbitrary points, each event's data
// through ChunkParser, and the whole input as a non-streamed body.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include "http/sse.h"
#include "loadgen/openai.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  static llmd::loadgen::ChunkParser chunks;  // reused across inputs, as the runner reuses it
  (void)chunks.parse(text);
  llmd::http::SseParser sse(64 * 1024);
  const size_t split = size > 0 ? data[0] % (size + 1) : 0;
  auto on_event = [](const llmd::http::SseEvent& e) { (void)chunks.parse(e.data); };
  const std::function<void(const llmd::http::SseEvent&)> cb = on_event;
  if (sse.feed(text.substr(0, split), cb)) (void)sse.feed(text.substr(split), cb);
  return 0;
}
