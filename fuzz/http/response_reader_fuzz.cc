// Fuzzes ResponseReader (the metrics scrapes' HTTP response framing): any byte stream, cut into
// pieces anywhere, must end in a verdict without crashing, and the same stream fed whole or in
// pieces must give the same verdict, status and body.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/polled_get.h"

namespace {

using llmd::http::ResponseReader;

struct Verdict {
  ResponseReader::Step step;
  unsigned status;
  std::string body;
};

Verdict read_all(std::string_view stream, size_t piece) {
  ResponseReader r;
  r.reset(4096, 64 * 1024);
  ResponseReader::Step s = ResponseReader::Step::kNeedMore;
  for (size_t off = 0; off < stream.size() && s == ResponseReader::Step::kNeedMore; off += piece) {
    s = r.feed(stream.substr(off, piece));
  }
  if (s == ResponseReader::Step::kNeedMore) s = r.feed_eof();
  if (r.body().size() > stream.size()) std::abort();  // framing never adds bytes
  return {s, r.status(), std::string(r.body())};
}

}  // namespace

// The first input byte picks the piece size; the rest is the stream.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t piece = 1 + data[0] % 64;
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  const Verdict whole = read_all(stream, stream.size() + 1);
  const Verdict pieces = read_all(stream, piece);
  if (whole.step != pieces.step) std::abort();
  if (whole.step == ResponseReader::Step::kDone &&
      (whole.status != pieces.status || whole.body != pieces.body)) {
    std::abort();
  }
  return 0;
}
