#include "stack/stack_spec.h"

#include <gtest/gtest.h>

namespace llmd::stack {
namespace {

TEST(StackSpec, DecodesEveryFieldAndResolvesPaths) {
  auto spec = parse_stack_spec(R"(
log_level: warn
ready_timeout: 30s
stop_grace: 2s
sims:
  - name: decode
    replicas: 3
    port: 8100
    profile: profiles/custom.yaml
    model: m
    args: [--num-gpu-blocks, "512"]
  - name: other
    profile: qwen3-32b-h100-tp2
routers:
  - name: gw
    port: 8000
    admin_port: 9000
    config_file: epp.yaml
    endpoints: [decode]
    args: [--threads, "1"]
)",
                               "stack.yaml", "/etc/llmd");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->log_level, "warn");
  EXPECT_EQ(spec->ready_timeout, std::chrono::seconds(30));
  EXPECT_EQ(spec->stop_grace, std::chrono::seconds(2));
  ASSERT_EQ(spec->sims.size(), 2u);
  EXPECT_EQ(spec->sims[0].name, "decode");
  EXPECT_EQ(spec->sims[0].replicas, 3u);
  EXPECT_EQ(spec->sims[0].port, 8100);
  EXPECT_EQ(spec->sims[0].profile, "/etc/llmd/profiles/custom.yaml");
  EXPECT_EQ(spec->sims[0].model, "m");
  EXPECT_EQ(spec->sims[0].args, (std::vector<std::string>{"--num-gpu-blocks", "512"}));
  EXPECT_EQ(spec->sims[1].profile, "qwen3-32b-h100-tp2");  // a built-in name stays a name
  EXPECT_EQ(spec->sims[1].replicas, 1u);
  EXPECT_EQ(spec->sims[1].port, 0);
  ASSERT_EQ(spec->routers.size(), 1u);
  EXPECT_EQ(spec->routers[0].config_file, "/etc/llmd/epp.yaml");
  EXPECT_EQ(spec->routers[0].admin_port, 9000);
  EXPECT_EQ(spec->routers[0].endpoints, (std::vector<std::string>{"decode"}));
}

TEST(StackSpec, DefaultsComeFromTheStruct) {
  auto spec = parse_stack_spec("sims: [{}]\nrouters: [{}]\n", "s.yaml", "");
  ASSERT_TRUE(spec) << spec.error().message;
  const StackSpec defaults;
  EXPECT_EQ(spec->ready_timeout, defaults.ready_timeout);
  EXPECT_EQ(spec->sims[0].name, "sim");
  EXPECT_EQ(spec->sims[0].profile, "instant");
  EXPECT_EQ(spec->routers[0].name, "router");
  EXPECT_TRUE(spec->routers[0].endpoints.empty());
}

struct BadCase {
  const char* yaml;
  const char* expect;  // substring of the error
};

class StackSpecErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(StackSpecErrors, NameThePath) {
  auto spec = parse_stack_spec(GetParam().yaml, "s.yaml", "");
  ASSERT_FALSE(spec);
  EXPECT_NE(spec.error().message.find(GetParam().expect), std::string::npos) << spec.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    All, StackSpecErrors,
    ::testing::Values(BadCase{"sims: [{replicas: 0}]", "sims[0].replicas: must be at least 1"},
                      BadCase{"sims: [{replicaz: 2}]", "sims[0].replicaz: unknown field"},
                      BadCase{"sims: [{port: hello}]", "sims[0].port"},
                      BadCase{"sims: [{port: 65535, replicas: 2}]", "sims[0].port"},
                      BadCase{"sims: [{name: a}, {name: a}]", "sims[1].name: duplicate name \"a\""},
                      BadCase{"sims: [{name: a}]\nrouters: [{name: a}]", "routers[0].name: duplicate name"},
                      BadCase{"sims: [{name: a}]\nrouters: [{endpoints: [a, b]}]",
                              "routers[0].endpoints[1]: no sim named \"b\""},
                      BadCase{"routers: [{}]", "routers[0]: a router needs at least one sim"},
                      BadCase{"sims: [{}]\nrouters: [{config: x, config_file: y}]",
                              "routers[0].config: give config or config_file"},
                      BadCase{"{}", "the stack starts nothing"},
                      BadCase{"ready_timeout: soon\nsims: [{}]", "ready_timeout"}));

}  // namespace
}  // namespace llmd::stack
