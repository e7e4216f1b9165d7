#pragma once
// Common HTTP types for the llmd runtime (Boost.Beast). Request bodies are kept as the bytes
// received (`std::string` body) and moved, never copied, on their way through.

#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
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

// OpenAI-style error body: {"error":{"message":..,"type":..,"param":null,"code":<status>}}.
// `type` defaults from the status (BadRequestError, NotFoundError, ...).
std::string openai_error_body(Status status, std::string_view message, std::string_view type = {});

// A complete JSON response with keep-alive matching the request.
Response json_response(Status status, std::string body, unsigned version = 11, bool keep_alive = true);
Response error_response(Status status, std::string_view message, unsigned version = 11,
                        bool keep_alive = true);

// The decoded values of query parameter `key` in a request target, in order ("/m?a=1&a=2" → 1, 2;
// keys are compared decoded, so `name%5B%5D` is `name[]`). Empty when absent or unparsable.
std::vector<std::string> query_values(std::string_view target, std::string_view key);

}  // namespace llmd::http
