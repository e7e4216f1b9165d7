#include "http/request_parser.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

namespace llmd::http {

void configure_request_parser(RequestParser& parser, size_t max_header_bytes, size_t max_body_bytes) {
  // Beast's header limit counts the whole header block, request line included.
  parser.header_limit(static_cast<std::uint32_t>(std::min<size_t>(max_header_bytes, UINT32_MAX)));
  parser.body_limit(static_cast<std::uint64_t>(max_body_bytes));
  parser.eager(true);
}

namespace {

class FramingCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "llmd.http.framing"; }
  std::string message(int ev) const override {
    switch (static_cast<FramingError>(ev)) {
      case FramingError::kTransferEncodingNotChunkedLast:
        return "Transfer-Encoding of a request must end in chunked";
      case FramingError::kUnsupportedTransferCoding:
        return "unsupported transfer coding (chunked is the only one accepted)";
      case FramingError::kTransferEncodingWithContentLength:
        return "Transfer-Encoding and Content-Length together";
      case FramingError::kTransferEncodingInHttp10:
        return "Transfer-Encoding in an HTTP/1.0 request";
      case FramingError::kDuplicateContentLength:
        return "more than one Content-Length";
      case FramingError::kInvalidContentLength:
        return "invalid Content-Length";
    }
    return "bad message framing";
  }
};

bool is_tchar_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && is_tchar_space(v.front())) v.remove_prefix(1);
  while (!v.empty() && is_tchar_space(v.back())) v.remove_suffix(1);
  return v;
}

}  // namespace

const boost::system::error_category& framing_category() {
  static const FramingCategory category;
  return category;
}

beast::error_code make_error_code(FramingError e) { return {static_cast<int>(e), framing_category()}; }

std::optional<FramingError> check_framing(const Request& head) {
  size_t content_lengths = 0;
  bool has_te = false;
  for (const auto& f : head) {
    if (f.name() == Field::content_length) {
      ++content_lengths;
      const std::string_view v = f.value();
      // A list ("5, 5") is a duplicate in one line; anything but digits is invalid.
      if (v.find(',') != std::string_view::npos) return FramingError::kDuplicateContentLength;
      if (v.empty() || v.find_first_not_of("0123456789") != std::string_view::npos)
        return FramingError::kInvalidContentLength;
    } else if (f.name() == Field::transfer_encoding) {
      has_te = true;
    }
  }
  if (content_lengths > 1) return FramingError::kDuplicateContentLength;
  if (!has_te) return std::nullopt;
  if (content_lengths > 0) return FramingError::kTransferEncodingWithContentLength;
  if (head.version() < 11) return FramingError::kTransferEncodingInHttp10;
  // The codings of every Transfer-Encoding line, in order, as one list.
  size_t codings = 0;
  size_t chunked = 0;
  bool last_chunked = false;
  bool unsupported = false;
  for (const auto& f : head) {
    if (f.name() != Field::transfer_encoding) continue;
    std::string_view rest = f.value();
    for (;;) {
      const size_t comma = rest.find(',');
      const std::string_view item = trim_ows(rest.substr(0, comma));
      if (!item.empty()) {
        ++codings;
        // Parameters (";q=...") do not make a coding chunked.
        last_chunked = beast::iequals(item, "chunked");
        if (last_chunked) {
          ++chunked;
        } else {
          unsupported = true;
        }
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (codings == 0 || !last_chunked || chunked > 1) return FramingError::kTransferEncodingNotChunkedLast;
  if (unsupported) return FramingError::kUnsupportedTransferCoding;
  return std::nullopt;
}

ParseProgress parse_buffered(RequestParser& parser, beast::flat_buffer& buf, beast::error_code& ec) {
  ec = {};
  const bool header_checked = parser.is_header_done();  // checked by an earlier call
  bool need_more = false;
  while (buf.size() > 0) {
    const size_t used = parser.put(buf.data(), ec);
    buf.consume(used);
    if (ec == bhttp::error::need_more) {
      ec = {};
      need_more = true;
      if (!header_checked && parser.is_header_done()) break;
      return ParseProgress::kNeedMore;
    }
    if (ec) return ParseProgress::kError;
    if (!header_checked && parser.is_header_done()) break;
    if (parser.is_done() || used == 0) break;
  }
  if (!header_checked && parser.is_header_done()) {
    if (auto fault = check_framing(parser.get())) {
      ec = make_error_code(*fault);
      return ParseProgress::kError;
    }
    if (parser.is_done()) return ParseProgress::kDone;
    // After need_more, Beast must next see a longer buffer: its chunk parser remembers how far
    // it scanned and asserts that the buffer grew (found by http_request_fuzz under libFuzzer).
    if (need_more) return ParseProgress::kNeedMore;
    // Checked: go on with whatever body bytes remain buffered.
    return parse_buffered(parser, buf, ec);
  }
  return parser.is_done() ? ParseProgress::kDone : ParseProgress::kNeedMore;
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
  if (ec == make_error_code(FramingError::kUnsupportedTransferCoding)) return Status::not_implemented;
  return Status::bad_request;
}

}  // namespace llmd::http
