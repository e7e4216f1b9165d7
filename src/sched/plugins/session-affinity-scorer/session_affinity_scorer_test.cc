#include "sched/plugins/session-affinity-scorer/session_affinity_scorer.h"

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

TEST(Base64Test, RoundTripsAndRejectsGarbage) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},        {"f", "Zg=="},        {"fo", "Zm8="},
      {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"ns/pod-rank-0", "bnMvcG9kLXJhbmstMA=="},
  };
  for (const auto& [plain, enc] : vectors) {
    EXPECT_EQ(base64_encode(plain), enc);
    std::string back;
    ASSERT_TRUE(base64_decode(enc, back)) << enc;
    EXPECT_EQ(back, plain);
  }
  std::string out;
  for (const char* bad : {"Zg=", "Z===", "Zm9v!A==", "=Zm9", "Zg==Zg=="})
    EXPECT_FALSE(base64_decode(bad, out)) << bad;
}

TEST(SessionAffinityScorerTest, PinsTheEncodedEndpoint) {
  auto eps = testing::endpoints(3);
  struct Case {
    std::string header;
    std::vector<double> want;
  };
  const Case cases[] = {
      {base64_encode(eps[1].id), {0, 1, 0}},
      {"", {0, 0, 0}},
      {base64_encode("ns/gone-rank-0"), {0, 0, 0}},
      {"%%%not-base64", {0, 0, 0}},
  };
  SessionAffinityScorer s({"session-affinity-scorer", "s"}, {});
  for (const auto& c : cases) {
    LLMRequest req;
    if (!c.header.empty()) req.headers.emplace_back("x-session-token", c.header);
    testing::Cycle cycle(eps, req);
    EXPECT_EQ(cycle.score(s), c.want) << c.header;
  }
}

TEST(SessionAffinityScorerTest, WritesTheServingEndpointOnTheResponse) {
  auto eps = testing::endpoints(2);
  SessionAffinityScorer primary({"session-affinity-scorer", "s"}, {});
  SessionAffinityScorer prefill({"session-affinity-scorer", "sp"}, SessionAffinityParams{"prefill"});
  EXPECT_EQ(prefill.header_name(), "x-session-token-prefill");
  testing::Cycle cycle(eps);
  auto result = cycle.result({{"decode", eps[0].id}, {"prefill", eps[1].id}});
  HeaderList headers = {{"x-session-token", "stale"}};
  primary.on_response_received(cycle.ctx().request, result, headers);
  prefill.on_response_received(cycle.ctx().request, result, headers);
  EXPECT_EQ(find_header(headers, "x-session-token"), base64_encode(eps[0].id));
  EXPECT_EQ(find_header(headers, "x-session-token-prefill"), base64_encode(eps[1].id));
  EXPECT_EQ(headers.size(), 2u);
}

TEST(SessionAffinityScorerTest, StrategyValidation) {
  auto ok = config::parse("{strategy: encoded_endpoint_header}");
  auto unsupported = config::parse("{strategy: session_id}");
  ASSERT_TRUE(ok && unsupported);
  EXPECT_TRUE(create_session_affinity_scorer(PluginArgs{{"session-affinity-scorer", "s"}, *ok}));
  auto r = create_session_affinity_scorer(PluginArgs{{"session-affinity-scorer", "s"}, *unsupported});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("strategy: session_id is not supported"), std::string::npos);
}

}  // namespace
}  // namespace llmd::sched::plugins
