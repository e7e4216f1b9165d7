// Fuzzes request parsing exactly as the server does it (same parser limits, same buffered parse
// step), with the bytes arriving in input-chosen pieces. Every outcome must be a complete request
// within the limits whose framing RFC 9112 accepts, or an error that maps to 400, 413, 431 or 501.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <boost/beast/core/buffers_to_string.hpp>

#include "http/request_parser.h"
#include "http/server.h"

// The first two input bytes choose the limits and the piece size; the rest is the request.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace llmd::http;
  if (size < 2) return 0;
  const ServerOptions options;
  // Small limits too, so the fuzzer reaches the 413/431 paths with short inputs.
  const bool small = (data[0] & 1) != 0;
  const size_t max_header = small ? 256 : options.max_header_bytes;
  const size_t max_body = small ? 64 : options.max_body_bytes;
  const size_t piece = 1 + data[1] % 64;
  data += 2;
  size -= 2;

  RequestParser parser;
  configure_request_parser(parser, max_header, max_body);
  beast::flat_buffer buf;
  size_t at = 0;
  for (;;) {
    const size_t n = std::min(piece, size - at);
    if (n > 0) {
      auto dst = buf.prepare(n);
      std::memcpy(dst.data(), data + at, n);
      buf.commit(n);
      at += n;
    }
    beast::error_code ec;
    const ParseProgress progress = parse_buffered(parser, buf, ec);
    if (progress == ParseProgress::kDone) {
      const Request& req = parser.get();
      if (req.body().size() > max_body) std::abort();
      if (req.version() != 10 && req.version() != 11) std::abort();
      if (check_framing(req)) std::abort();  // a faulty framing must never reach a handler
      return 0;
    }
    if (progress == ParseProgress::kError) {
      const auto status = status_for_parse_error(ec);
      if (!status) std::abort();
      if (*status != Status::bad_request && *status != Status::payload_too_large &&
          *status != Status::request_header_fields_too_large && *status != Status::not_implemented) {
        std::abort();
      }
      return 0;
    }
    if (at == size) {
      // Out of input: the server would read more; the parser must not claim to be done.
      if (parser.is_done()) std::abort();
      return 0;
    }
  }
}
