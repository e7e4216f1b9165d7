#pragma once
// Common HTTP types for the llmd runtime (Boost.Beast). Request bodies are kept as the bytes
// received (`std::string` body) and moved, never copied, on their way through.

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace llmd::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;
using ResponseHead = bhttp::response_header<>;
using Status = bhttp::status;
using Verb = bhttp::verb;
using Field = bhttp::field;

template <class T>
using Awaitable = asio::awaitable<T>;

// Appends `v` in decimal (status codes, Content-Length, ports in a head being written).
void append_uint(std::string& out, uint64_t v);

// Hop-by-hop headers (RFC 9110 §7.6.1 and the usual legacy ones): a proxy does not forward them.
bool is_hop_by_hop(Field f);

// The header names a message's Connection fields list as options (RFC 9110 §7.6.1), which are
// hop-by-hop too and must not be forwarded, lower-cased into `out` (cleared first; its capacity
// is reused). "close" and "keep-alive" are left out: they name no header.
void connection_options(const Request& req, std::vector<std::string>& out);
// Whether `name` is among `options` (as connection_options gives them).
bool is_connection_option(std::string_view name, const std::vector<std::string>& options);

// What a send of `sent` bytes of `head` then `body` left to write: the rest of the head (none once
// past it), then the rest of the body. Both the client and the server resume a cut-short first send
// with it.
inline std::array<asio::const_buffer, 2> unsent(std::string_view head, std::string_view body, size_t sent) {
  const size_t head_sent = std::min(sent, head.size());
  return {asio::buffer(head) + head_sent, asio::buffer(body) + (sent - head_sent)};
}

// A response head in wire form, as a proxy relays it: the status and the header lines, each
// "Name: value\r\n". Transfer-Encoding and Connection are never among them (the server frames the
// response itself); Content-Length is, only in an answer to HEAD (the length of the GET body it
// stands for). Relaying an upstream's head this way skips building a field container only to
// serialize it again, which is most of a proxy's per-request work outside the kernel.
class WireHead {
 public:
  unsigned status = 0;

  void clear();
  // Appends a header line as given; names keep their case.
  void add(std::string_view name, std::string_view value);
  // Removes the lines named `name` (in any case), then appends this one.
  void set(std::string_view name, std::string_view value);
  // The value of the first line named `name` (in any case); empty when there is none.
  std::string_view find(std::string_view name) const;
  const std::string& lines() const { return lines_; }
  bool has_date() const { return has_date_; }
  bool has_server() const { return has_server_; }
  bool has_content_length() const { return has_length_; }

 private:
  void remove(std::string_view name);

  std::string lines_;
  bool has_date_ = false;
  bool has_server_ = false;
  bool has_length_ = false;
};

// OpenAI-style error body: {"error":{"message":..,"type":..,"param":..,"code":<status>}}.
// `type` defaults from the status (BadRequestError, NotFoundError, ...); `param`, the offending
// request field's path, is null when empty.
std::string openai_error_body(Status status, std::string_view message, std::string_view type = {},
                              std::string_view param = {});

// A complete JSON response with keep-alive matching the request.
Response json_response(Status status, std::string body, unsigned version = 11, bool keep_alive = true);
Response error_response(Status status, std::string_view message, unsigned version = 11,
                        bool keep_alive = true);

// The decoded values of query parameter `key` in a request target, in order ("/m?a=1&a=2" → 1, 2;
// keys are compared decoded, so `name%5B%5D` is `name[]`). Empty when absent or unparsable.
std::vector<std::string> query_values(std::string_view target, std::string_view key);

}  // namespace llmd::http
