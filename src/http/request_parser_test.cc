#include "http/request_parser.h"

#include <string_view>

#include <boost/asio/buffer.hpp>

#include <gtest/gtest.h>

namespace llmd::http {
namespace {

// A parser that has been fed `bytes` (all consumed: eager, and any body bytes go to the body).
void feed(RequestParser& p, std::string_view bytes) {
  beast::error_code ec;
  const size_t used = p.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  ASSERT_FALSE(ec && ec != bhttp::error::need_more) << ec.message();
  ASSERT_EQ(used, bytes.size());
}

TEST(NextReadSize, SmallUntilTheHeaderIsDone) {
  RequestParser p;
  configure_request_parser(p, 64 * 1024, 16 * 1024 * 1024);
  EXPECT_EQ(next_read_size(p), kReadChunk);
  beast::error_code ec;
  p.put(boost::asio::buffer(std::string_view("POST /v1/completions HTTP/1.1\r\nContent-Len")), ec);
  EXPECT_EQ(next_read_size(p), kReadChunk);
}

TEST(NextReadSize, WhatRemainsOfAKnownBodyClampedToTheBounds) {
  struct Case {
    const char* length;
    size_t body_bytes_in;
    size_t want;
  };
  static_assert(kReadChunk == 16 * 1024 && kBodyReadChunk == 256 * 1024);  // the cases below
  for (const Case c :
       {Case{"220000", 0, 220'000}, Case{"220000", 1'000, 219'000}, Case{"1048576", 0, kBodyReadChunk},
        Case{"1048576", 900'000, 148'576}, Case{"100", 0, kReadChunk}, Case{"300000", 290'000, kReadChunk}}) {
    RequestParser p;
    configure_request_parser(p, 64 * 1024, 16 * 1024 * 1024);
    feed(p,
         std::string("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: ") + c.length + "\r\n\r\n");
    feed(p, std::string(c.body_bytes_in, 'x'));
    EXPECT_EQ(next_read_size(p), c.want) << c.length << " with " << c.body_bytes_in << " in";
  }
}

TEST(NextReadSize, SmallForChunkedBodies) {
  RequestParser p;
  configure_request_parser(p, 64 * 1024, 16 * 1024 * 1024);
  feed(p, "POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n40000\r\n");
  EXPECT_EQ(next_read_size(p), kReadChunk);
}

}  // namespace
}  // namespace llmd::http
