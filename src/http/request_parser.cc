#include "http/request_parser.h"

#include <algorithm>
#include <cstdint>

#include <boost/beast/http/error.hpp>

namespace llmd::http {

void configure_request_parser(RequestParser& parser, size_t max_header_bytes, size_t max_body_bytes) {
  // Beast's header limit counts the whole header block, request line included.
  parser.header_limit(static_cast<std::uint32_t>(std::min<size_t>(max_header_bytes, UINT32_MAX)));
  parser.body_limit(static_cast<std::uint64_t>(max_body_bytes));
  parser.eager(true);
}

ParseProgress parse_buffered(RequestParser& parser, beast::flat_buffer& buf, beast::error_code& ec) {
  ec = {};
  while (buf.size() > 0) {
    const size_t used = parser.put(buf.data(), ec);
    buf.consume(used);
    if (ec == bhttp::error::need_more) {
      ec = {};
      return ParseProgress::kNeedMore;
    }
    if (ec) return ParseProgress::kError;
    if (parser.is_done()) return ParseProgress::kDone;
    if (used == 0) break;
  }
  return ParseProgress::kNeedMore;
}

size_t next_read_size(const RequestParser& parser) {
  if (!parser.is_header_done()) return kReadChunk;
  const auto remaining = parser.content_length_remaining();  // boost::optional
  if (!remaining) return kReadChunk;
  return static_cast<size_t>(std::clamp<std::uint64_t>(*remaining, kReadChunk, kBodyReadChunk));
}

std::optional<Status> status_for_parse_error(const beast::error_code& ec) {
  if (!ec || ec == bhttp::error::need_more) return std::nullopt;
  if (ec == bhttp::error::header_limit) return Status::request_header_fields_too_large;
  if (ec == bhttp::error::body_limit) return Status::payload_too_large;
  return Status::bad_request;
}

}  // namespace llmd::http
