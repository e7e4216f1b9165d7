#pragma once
// Test support: one blocking HTTP/1.1 exchange with a server on 127.0.0.1 (Beast, synchronous), for
// the router's unit and end-to-end tests. The body is returned de-chunked.

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace llmd::http::testing {

struct HttpReply {
  int status = 0;                                            // 0: the exchange failed (see error)
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string error;

  // The first header named `name` (lower case), or "" when absent.
  std::string header(const std::string& name) const;
};

HttpReply http_call(uint16_t port, const std::string& method, const std::string& target,
                    const std::string& body = {},
                    const std::vector<std::pair<std::string, std::string>>& headers = {},
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Sends a request and reads only the response head and `body_bytes` body bytes (or less), then closes
// the connection abruptly: a client that goes away mid-stream.
HttpReply http_call_and_hang_up(uint16_t port, const std::string& target, const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                size_t body_bytes);

}  // namespace llmd::http::testing
