#include "http/request_id.h"

#include <set>

#include <gtest/gtest.h>

namespace llmd::http {
namespace {

TEST(RequestIdGenerator, MakesVersion4Uuids) {
  Rng rng(7);
  RequestIdGenerator gen(rng);
  std::set<std::string> seen;
  std::string id;
  for (int i = 0; i < 100; ++i) {
    gen.next(id);
    ASSERT_EQ(id.size(), 36u) << id;
    for (size_t at : {8u, 13u, 18u, 23u}) EXPECT_EQ(id[at], '-') << id;
    EXPECT_EQ(id[14], '4') << id;                                          // version
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // RFC 4122 variant
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef-"), std::string::npos) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(RequestId, UsableIdsAreShortAndVisibleAscii) {
  EXPECT_TRUE(usable_request_id("abc-123"));
  EXPECT_TRUE(usable_request_id(std::string(kMaxRequestIdBytes, 'a')));
  EXPECT_FALSE(usable_request_id(std::string(kMaxRequestIdBytes + 1, 'a')));
  EXPECT_FALSE(usable_request_id(""));
  EXPECT_FALSE(usable_request_id("a b"));
  EXPECT_FALSE(usable_request_id("a\x01"));
  EXPECT_FALSE(usable_request_id("caf\xc3\xa9"));
}

TEST(RequestIdGenerator, TheRngFixesTheSequence) {
  Rng a(42), b(42);
  RequestIdGenerator ga(a), gb(b);
  std::string x, y;
  ga.next(x);
  gb.next(y);
  EXPECT_EQ(x, y);
}

}  // namespace
}  // namespace llmd::http
