#include "http/sse.h"

#include <vector>

#include <gtest/gtest.h>

#include "common/random.h"

namespace llmd::http {
namespace {

struct Ev {
  std::string event, data, id;
  std::optional<uint64_t> retry;
  bool operator==(const Ev&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Ev& e) {
  return os << "{event=" << e.event << " data=" << e.data << " id=" << e.id
            << " retry=" << (e.retry ? std::to_string(*e.retry) : "-") << "}";
}

std::vector<Ev> parse_all(std::string_view input, const std::vector<size_t>& splits = {}) {
  SseParser p;
  std::vector<Ev> out;
  auto sink = [&](const SseEvent& e) { out.push_back(Ev{e.event, e.data, e.id, e.retry_ms}); };
  size_t at = 0;
  for (size_t s : splits) {
    EXPECT_TRUE(p.feed(input.substr(at, s - at), sink));
    at = s;
  }
  EXPECT_TRUE(p.feed(input.substr(at), sink));
  return out;
}

TEST(SseParser, SingleEvent) {
  EXPECT_EQ(parse_all("data: hello\n\n"), (std::vector<Ev>{{"", "hello", "", {}}}));
}

TEST(SseParser, MultiLineDataJoinsWithNewline) {
  EXPECT_EQ(parse_all("data: a\ndata: b\ndata\n\n"), (std::vector<Ev>{{"", "a\nb\n", "", {}}}));
}

TEST(SseParser, AllLineEndings) {
  EXPECT_EQ(parse_all("data: a\r\rdata: b\r\n\r\ndata: c\n\n"),
            (std::vector<Ev>{{"", "a", "", {}}, {"", "b", "", {}}, {"", "c", "", {}}}));
}

TEST(SseParser, CrLfSplitAcrossFeeds) {
  const std::string s = "data: a\r\n\r\ndata: b\r\n\r\n";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    EXPECT_EQ(parse_all(s, {cut}), (std::vector<Ev>{{"", "a", "", {}}, {"", "b", "", {}}}))
        << "cut at " << cut;
  }
}

TEST(SseParser, CommentsAndUnknownFieldsAreIgnored) {
  EXPECT_EQ(parse_all(": keep-alive\n\n:x\ndata: v\nfoo: bar\n\n"), (std::vector<Ev>{{"", "v", "", {}}}));
}

TEST(SseParser, ValueSpacing) {
  EXPECT_EQ(parse_all("data:x\n\ndata:  y\n\ndata:\n\n"),
            (std::vector<Ev>{{"", "x", "", {}}, {"", " y", "", {}}, {"", "", "", {}}}));
}

TEST(SseParser, EventTypeResetsAfterDispatch) {
  EXPECT_EQ(parse_all("event: add\ndata: 1\n\ndata: 2\n\n"),
            (std::vector<Ev>{{"add", "1", "", {}}, {"", "2", "", {}}}));
}

TEST(SseParser, BlankLineWithoutDataDispatchesNothing) {
  // The event type of a data-less block is dropped too.
  EXPECT_EQ(parse_all("event: ping\n\n\n\ndata: x\n\n"), (std::vector<Ev>{{"", "x", "", {}}}));
}

TEST(SseParser, IdPersistsAndNulIdIsIgnored) {
  static constexpr char kInput[] = "id: 7\ndata: a\n\ndata: b\n\nid: 8\0x\ndata: c\n\nid\ndata: d\n\n";
  const std::string s(kInput, sizeof(kInput) - 1);
  EXPECT_EQ(parse_all(s),
            (std::vector<Ev>{{"", "a", "7", {}}, {"", "b", "7", {}}, {"", "c", "7", {}}, {"", "d", "", {}}}));
}

TEST(SseParser, RetryMustBeDigits) {
  EXPECT_EQ(
      parse_all("retry: 1500\ndata: a\n\nretry: 12a\ndata: b\n\nretry: 99999999999999999999\ndata: c\n\n"),
      (std::vector<Ev>{{"", "a", "", 1500}, {"", "b", "", 1500}, {"", "c", "", 1500}}));
}

TEST(SseParser, LeadingBomIsSkippedOnce) {
  EXPECT_EQ(parse_all("\xEF\xBB\xBF"
                      "data: a\n\n\xEF\xBB\xBF"
                      "data: b\n\n",
                      {1, 2}),
            (std::vector<Ev>{{"", "a", "", {}}}));
}

TEST(SseParser, UnfinishedEventIsNotDispatched) {
  SseParser p;
  int n = 0;
  EXPECT_TRUE(p.feed("data: a\n", [&](const SseEvent&) { ++n; }));
  EXPECT_TRUE(p.feed("data: b", [&](const SseEvent&) { ++n; }));
  EXPECT_EQ(n, 0);
  EXPECT_GT(p.pending_bytes(), 0u);
}

TEST(SseParser, EventBoundFailsAndStaysFailed) {
  SseParser p(16);
  int n = 0;
  EXPECT_TRUE(p.feed("data: short\n\n", [&](const SseEvent&) { ++n; }));
  EXPECT_FALSE(p.feed("data: 0123456789abcdef0123\n\n", [&](const SseEvent&) { ++n; }));
  EXPECT_FALSE(p.feed("data: x\n\n", [&](const SseEvent&) { ++n; }));
  EXPECT_EQ(n, 1);
}

TEST(SseParser, BoundCoversAccumulatedDataLines) {
  SseParser p(32);
  const bool ok =
      p.feed("data: 0123456789\ndata: 0123456789\ndata: 0123456789\ndata: x\n\n", [](const SseEvent&) {});
  EXPECT_FALSE(ok);
}

// Property: a random stream of events, written with random line endings, comments and fields,
// parses to the same events however it is split.
TEST(SseParser, ArbitrarySplitsGiveTheSameEvents) {
  Rng rng(42);
  const char* endings[] = {"\n", "\r", "\r\n"};
  for (int round = 0; round < 200; ++round) {
    std::string stream;
    std::vector<Ev> expected;
    std::string last_ending;
    std::string id;
    std::optional<uint64_t> retry;
    auto line = [&](const std::string& text) {
      // "\r" then an empty line ending in "\n" would read as one CRLF.
      std::string ending = endings[rng.below(3)];
      if (text.empty() && last_ending == "\r" && ending == "\n") ending = "\r\n";
      stream += text + ending;
      last_ending = ending;
    };
    auto word = [&] {
      std::string w;
      const size_t len = rng.below(12);
      for (size_t i = 0; i < len; ++i) w.push_back("abcxyz {}\":,0123456789-_"[rng.below(24)]);
      return w;
    };
    const int events = 1 + static_cast<int>(rng.below(20));
    for (int e = 0; e < events; ++e) {
      Ev ev;
      if (rng.below(4) == 0) line(": " + word());
      if (rng.below(3) == 0) {
        ev.event = "t" + word();
        line("event: " + ev.event);
      }
      if (rng.below(3) == 0) {
        id = "id" + word();
        line("id: " + id);
      }
      if (rng.below(5) == 0) {
        retry = rng.below(100000);
        line("retry: " + std::to_string(*retry));
      }
      const int data_lines = 1 + static_cast<int>(rng.below(3));
      for (int d = 0; d < data_lines; ++d) {
        const std::string w = word();
        if (d > 0) ev.data += '\n';
        ev.data += w;
        // Without the optional space only when the value does not itself start with one.
        line(rng.below(2) == 0 || w.starts_with(' ') ? "data: " + w : "data:" + w);
      }
      ev.id = id;
      ev.retry = retry;
      line("");
      expected.push_back(ev);
    }
    ASSERT_EQ(parse_all(stream), expected) << "round " << round;
    // Random split points, and every byte on its own.
    std::vector<size_t> splits;
    for (size_t at = 0; at < stream.size(); at += 1 + rng.below(8)) splits.push_back(at);
    ASSERT_EQ(parse_all(stream, splits), expected) << "round " << round;
    std::vector<size_t> bytes;
    for (size_t at = 1; at < stream.size(); ++at) bytes.push_back(at);
    ASSERT_EQ(parse_all(stream, bytes), expected) << "round " << round;
  }
}

TEST(SseData, Formats) {
  EXPECT_EQ(sse_data(R"({"a":1})"), "data: {\"a\":1}\n\n");
  EXPECT_EQ(sse_data(""), "data: \n\n");
}

}  // namespace
}  // namespace llmd::http
