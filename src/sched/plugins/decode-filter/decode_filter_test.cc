#include "sched/plugins/decode-filter/decode_filter.h"

#include <gtest/gtest.h>

#include "sched/plugins/prefill-filter/prefill_filter.h"
#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

struct RoleCase {
  const char* role;  // nullptr: no label
  bool decode;
  bool prefill;
};

// As in llm-d-router pkg/epp/framework/plugins/scheduling/filter/bylabel/roles.go: decode keeps {decode,
// prefill-decode, both, encode-prefill-decode} and unlabeled; prefill keeps {prefill, encode-prefill,
// prefill-decode, both, encode-prefill-decode}, not unlabeled.
const RoleCase kRoleCases[] = {
    {nullptr, true, false},
    {"decode", true, false},
    {"prefill", false, true},
    {"prefill-decode", true, true},
    {"both", true, true},
    {"encode-prefill-decode", true, true},
    {"encode", false, false},
    {"encode-prefill", false, true},
    {"encode-decode", false, false},
    {"", false, false},
    {"Decode", false, false},
};

TEST(DecodeFilterTest, RoleTable) {
  for (const auto& c : kRoleCases) {
    auto eps = testing::endpoints(1);
    if (c.role != nullptr) eps[0].labels[std::string(kRoleLabel)] = c.role;
    testing::Cycle cycle(eps);
    DecodeFilter decode({"decode-filter", "decode-filter"});
    PrefillFilter prefill({"prefill-filter", "prefill-filter"});
    EXPECT_EQ(cycle.filter(decode).size(), c.decode ? 1u : 0u) << (c.role ? c.role : "<none>");
    EXPECT_EQ(cycle.filter(prefill).size(), c.prefill ? 1u : 0u) << (c.role ? c.role : "<none>");
  }
}

TEST(DecodeFilterTest, KeepsOrderOfSurvivors) {
  auto eps = testing::endpoints(4);
  eps[1].labels[std::string(kRoleLabel)] = "prefill";
  eps[3].labels[std::string(kRoleLabel)] = "decode";
  testing::Cycle cycle(eps);
  DecodeFilter f({"decode-filter", "decode-filter"});
  EXPECT_EQ(cycle.filter(f), (std::vector<std::string>{eps[0].id, eps[2].id, eps[3].id}));
}

TEST(DecodeFilterTest, RejectsParameters) {
  auto node = config::parse("{x: 1}");
  ASSERT_TRUE(node);
  auto r = create_decode_filter(PluginArgs{{"decode-filter", "decode-filter"}, *node});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("x: unknown field"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace llmd::sched::plugins
