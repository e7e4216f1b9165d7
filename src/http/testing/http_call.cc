#include "http/testing/http_call.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <sys/socket.h>
#include <sys/time.h>

namespace llmd::http::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

std::string HttpReply::header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

namespace {

bhttp::request<bhttp::string_body> make_request(
    uint16_t port, const std::string& method, const std::string& target, const std::string& body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(port));
  if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.keep_alive(false);
  req.prepare_payload();
  return req;
}

void set_timeout(tcp::socket& sock, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

template <class Fields>
void copy_headers(const Fields& fields, HttpReply& out) {
  for (const auto& f : fields) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers.emplace_back(std::move(name), std::string(f.value()));
  }
}

}  // namespace

HttpReply http_call(uint16_t port, const std::string& method, const std::string& target,
                    const std::string& body, const std::vector<std::pair<std::string, std::string>>& headers,
                    std::chrono::milliseconds timeout) {
  HttpReply out;
  try {
    asio::io_context ioc;
    tcp::socket sock(ioc);
    sock.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    set_timeout(sock, timeout);
    auto req = make_request(port, method, target, body, headers);
    bhttp::write(sock, req);
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(1ull << 30);
    bhttp::read(sock, buf, parser);
    const auto& res = parser.get();
    out.status = res.result_int();
    copy_headers(res, out);
    out.body = res.body();
  } catch (const std::exception& e) {
    out.status = 0;
    out.error = e.what();
  }
  return out;
}

HttpReply http_call_and_hang_up(uint16_t port, const std::string& target, const std::string& body,
                                const std::vector<std::pair<std::string, std::string>>& headers,
                                size_t body_bytes) {
  HttpReply out;
  try {
    asio::io_context ioc;
    tcp::socket sock(ioc);
    sock.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    set_timeout(sock, std::chrono::seconds(30));
    auto req = make_request(port, "POST", target, body, headers);
    bhttp::write(sock, req);
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::buffer_body> parser;
    bhttp::read_header(sock, buf, parser);
    out.status = parser.get().result_int();
    copy_headers(parser.get(), out);
    char piece[4096];
    while (out.body.size() < body_bytes && !parser.is_done()) {
      parser.get().body().data = piece;
      parser.get().body().size = sizeof piece;
      beast::error_code ec;
      bhttp::read_some(sock, buf, parser, ec);
      if (ec && ec != bhttp::error::need_buffer) break;
      out.body.append(piece, sizeof piece - parser.get().body().size);
    }
    // RST rather than FIN, so the server sees the client gone at once.
    ::linger lg{1, 0};
    ::setsockopt(sock.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    sock.close();
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

}  // namespace llmd::http::testing
