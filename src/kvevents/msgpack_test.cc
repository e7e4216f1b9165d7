#include "kvevents/msgpack.h"

#include <limits>

#include <gtest/gtest.h>

namespace llmd::kvevents::msgpack {
namespace {

std::string hex(const std::string& s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    out.push_back(kHex[static_cast<uint8_t>(c) >> 4]);
    out.push_back(kHex[static_cast<uint8_t>(c) & 0xf]);
  }
  return out;
}

std::string write(auto&& f) {
  std::string out;
  Writer w(out);
  f(w);
  return hex(out);
}

TEST(MsgpackTest, IntegersUseShortestForm) {
  EXPECT_EQ(write([](Writer& w) { w.uint(0x7f); }), "7f");
  EXPECT_EQ(write([](Writer& w) { w.uint(0x80); }), "cc80");
  EXPECT_EQ(write([](Writer& w) { w.uint(0x100); }), "cd0100");
  EXPECT_EQ(write([](Writer& w) { w.uint(0x10000); }), "ce00010000");
  EXPECT_EQ(write([](Writer& w) { w.uint(0x100000000ull); }), "cf0000000100000000");
  EXPECT_EQ(write([](Writer& w) { w.sint(-1); }), "ff");
  EXPECT_EQ(write([](Writer& w) { w.sint(-32); }), "e0");
  EXPECT_EQ(write([](Writer& w) { w.sint(-33); }), "d0df");
  EXPECT_EQ(write([](Writer& w) { w.sint(-129); }), "d1ff7f");
  EXPECT_EQ(write([](Writer& w) { w.sint(std::numeric_limits<int64_t>::min()); }), "d38000000000000000");
  EXPECT_EQ(write([](Writer& w) { w.sint(5); }), "05");
}

TEST(MsgpackTest, FloatsAreAlwaysFloat64) {
  EXPECT_EQ(write([](Writer& w) { w.float64(1700000000.0); }), "cb41d954fc40000000");
  EXPECT_EQ(write([](Writer& w) { w.float64(1700000000.5); }), "cb41d954fc40200000");
}

TEST(MsgpackTest, StringsAndContainers) {
  EXPECT_EQ(write([](Writer& w) { w.str("GPU"); }), "a3475055");
  EXPECT_EQ(write([](Writer& w) { w.str(std::string(32, 'a')); }).substr(0, 4), "d920");
  EXPECT_EQ(write([](Writer& w) { w.bin("\x01"); }), "c40101");
  EXPECT_EQ(write([](Writer& w) { w.array_head(15); }), "9f");
  EXPECT_EQ(write([](Writer& w) { w.array_head(16); }), "dc0010");
  EXPECT_EQ(write([](Writer& w) { w.map_head(11); }), "8b");
  EXPECT_EQ(write([](Writer& w) { w.map_head(70000); }), "df00011170");
}

TEST(MsgpackTest, ReaderRoundTrips) {
  std::string buf;
  Writer w(buf);
  w.array_head(7);
  w.uint(~0ull);
  w.sint(-200);
  w.float64(0.25);
  w.str("hello");
  w.bin("ab");
  w.nil();
  w.boolean(true);
  Reader r(buf);
  uint32_t n = 0;
  ASSERT_TRUE(r.read_array(n));
  EXPECT_EQ(n, 7u);
  uint64_t u = 0;
  EXPECT_TRUE(r.read_uint(u));
  EXPECT_EQ(u, ~0ull);
  int64_t i = 0;
  EXPECT_TRUE(r.read_int(i));
  EXPECT_EQ(i, -200);
  double d = 0;
  EXPECT_TRUE(r.read_number(d));
  EXPECT_EQ(d, 0.25);
  std::string_view s;
  EXPECT_TRUE(r.read_str(s));
  EXPECT_EQ(s, "hello");
  EXPECT_TRUE(r.read_bin(s));
  EXPECT_EQ(s, "ab");
  EXPECT_TRUE(r.read_nil());
  bool b = false;
  EXPECT_TRUE(r.read_bool(b));
  EXPECT_TRUE(b);
  EXPECT_TRUE(r.at_end());
  EXPECT_FALSE(r.failed());
}

TEST(MsgpackTest, ReaderFailsOnTypeMismatchAndStaysFailed) {
  std::string buf;
  Writer w(buf);
  w.str("x");
  w.uint(1);
  Reader r(buf);
  uint64_t u = 0;
  EXPECT_FALSE(r.read_uint(u));
  EXPECT_TRUE(r.failed());
  std::string_view s;
  EXPECT_FALSE(r.read_str(s));
}

TEST(MsgpackTest, ReaderRejectsNegativeAsUintAndHugeAsInt) {
  std::string buf;
  Writer w(buf);
  w.sint(-1);
  Reader r(buf);
  uint64_t u = 0;
  EXPECT_FALSE(r.read_uint(u));

  std::string big;
  Writer w2(big);
  w2.uint(~0ull);
  Reader r2(big);
  int64_t i = 0;
  EXPECT_FALSE(r2.read_int(i));
  Reader r3(big);
  EXPECT_TRUE(r3.read_u64_bits(u));
  EXPECT_EQ(u, ~0ull);
}

TEST(MsgpackTest, DeclaredLengthsAreBoundedByInput) {
  // array32 claiming 2^32-1 elements in a 5-byte buffer, str32 claiming 4 GiB.
  Reader r(std::string_view("\xdd\xff\xff\xff\xff", 5));
  uint32_t n = 0;
  EXPECT_FALSE(r.read_array(n));
  Reader r2(
      std::string_view("\xdb\xff\xff\xff\xff"
                       "ab",
                       7));
  std::string_view s;
  EXPECT_FALSE(r2.read_str(s));
}

TEST(MsgpackTest, SkipHandlesNestingAndExt) {
  std::string buf;
  Writer w(buf);
  w.map_head(2);
  w.str("a");
  w.array_head(2);
  w.array_head(1);
  w.uint(1);
  w.map_head(0);
  w.str("b");
  w.float64(1.5);
  buf += std::string("\xd5\x01\xaa\xbb", 4);  // fixext2
  buf += "\x07";
  Reader r(buf);
  EXPECT_TRUE(r.skip());
  EXPECT_EQ(r.peek(), Type::kExt);
  EXPECT_TRUE(r.skip());
  uint64_t u = 0;
  EXPECT_TRUE(r.read_uint(u));
  EXPECT_EQ(u, 7u);
  EXPECT_TRUE(r.at_end());
  Reader bad(std::string_view("\xc1", 1));
  EXPECT_FALSE(bad.skip());
}

}  // namespace
}  // namespace llmd::kvevents::msgpack
