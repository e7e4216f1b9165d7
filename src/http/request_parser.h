#pragma once
// How the server parses requests: one place for the parser limits and for the mapping of parse
// errors to statuses, so the server and its fuzz target agree.

#include <cstddef>
#include <optional>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>

#include "http/types.h"

namespace llmd::http {

using RequestParser = bhttp::request_parser<bhttp::string_body>;

// Applies the header and body limits. Eager, so headers and body parse in the same put().
void configure_request_parser(RequestParser& parser, size_t max_header_bytes, size_t max_body_bytes);

enum class ParseProgress { kNeedMore, kDone, kError };

// Feeds the buffered bytes to the parser, consuming what it used. kError leaves the cause in `ec`.
// Bytes of a following (pipelined) request stay in `buf`. Once the header is complete it is checked
// against RFC 9112 §6 framing (check_framing), which Beast leaves to the application.
ParseProgress parse_buffered(RequestParser& parser, beast::flat_buffer& buf, beast::error_code& ec);

// Framing faults Beast accepts but RFC 9112 §6 does not. Each ends the connection after the error
// reply, so that no byte after the fault is read as a request (request smuggling).
enum class FramingError {
  kTransferEncodingNotChunkedLast = 1,  // §6.3: chunked must be the final coding of a request (400)
  kUnsupportedTransferCoding,           // §6.1: a coding other than chunked (501)
  kTransferEncodingWithContentLength,   // §6.3: both framings at once (400)
  kTransferEncodingInHttp10,            // §6.1: HTTP/1.0 has no transfer codings (400)
  kDuplicateContentLength,              // §8.6: more than one Content-Length value (400)
  kInvalidContentLength,                // §8.6: not a single run of digits (400)
};
const boost::system::error_category& framing_category();
beast::error_code make_error_code(FramingError e);

// The framing fault of a complete request head, if any.
std::optional<FramingError> check_framing(const Request& head);

// Bytes the server asks of one read: kReadChunk for headers and small or chunked bodies, and what
// remains of a body of known length, up to kBodyReadChunk. A large body read 16 KiB at a time arrives
// late: a 220 KB prompt from one of 150 busy connections took 17 ms (median) from its first byte to
// its last, against 0.02 ms with reads sized to the body (docs/benchmarks.md, Router).
inline constexpr size_t kReadChunk = 16 * 1024;
inline constexpr size_t kBodyReadChunk = 256 * 1024;

// The size of the next read for `parser`: kReadChunk while the header is incomplete or the body's
// length is unknown (chunked), else what remains of the body clamped to [kReadChunk, kBodyReadChunk].
size_t next_read_size(const RequestParser& parser);

// The status to answer a request that failed to parse with `ec`: 431 for the header limit, 413 for
// the body limit, 501 for a transfer coding other than chunked, 400 for anything malformed. nullopt for
// errors that are not the client's input (need_more), which the caller handles itself.
std::optional<Status> status_for_parse_error(const beast::error_code& ec);

}  // namespace llmd::http
