// Fuzzes the SSE parser differentially: the same bytes fed whole and in input-chosen pieces must
// give the same events and the same verdict on the event-size bound.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/sse.h"

namespace {

struct Seen {
  std::string event, data, id;
  uint64_t retry = UINT64_MAX;
  bool operator==(const Seen&) const = default;
};

bool parse(std::string_view in, size_t stride_seed, std::vector<Seen>& out) {
  llmd::http::SseParser parser(4096);
  auto sink = [&](const llmd::http::SseEvent& e) {
    out.push_back(Seen{e.event, e.data, e.id, e.retry_ms.value_or(UINT64_MAX)});
  };
  if (stride_seed == 0) return parser.feed(in, sink);
  bool ok = true;
  size_t at = 0;
  size_t step = stride_seed;
  while (at < in.size()) {
    const size_t n = std::min(in.size() - at, 1 + step % 13);
    ok = parser.feed(in.substr(at, n), sink);
    at += n;
    step = step * 31 + static_cast<unsigned char>(in[at - 1]);
  }
  return ok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<Seen> whole, pieces;
  const bool ok_whole = parse(in, 0, whole);
  const bool ok_pieces = parse(in, size + 1, pieces);
  if (ok_whole != ok_pieces || whole != pieces) std::abort();
  return 0;
}
