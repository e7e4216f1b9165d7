#include "sched/plugins/file-discovery/file_discovery.h"

#include <gtest/gtest.h>

#include "sched/test_support.h"

namespace llmd::sched::plugins {
namespace {

Result<std::shared_ptr<Plugin>> make(std::string_view yaml) {
  auto node = config::parse(yaml, "t.yaml");
  EXPECT_TRUE(node);
  return create_file_discovery(PluginArgs{{"file-discovery", "disc"}, *node});
}

TEST(FileDiscoveryTest, NamesTheFileAndWhetherToWatchIt) {
  auto p = make("{path: /etc/epp/endpoints.yaml, watchFile: true}");
  ASSERT_TRUE(p) << p.error().message;
  const auto* d = dynamic_cast<const EndpointDiscovery*>(p->get());
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->discovery_file().path, "/etc/epp/endpoints.yaml");
  EXPECT_TRUE(d->discovery_file().watch);

  auto once = make("{path: endpoints.json}");
  ASSERT_TRUE(once) << once.error().message;
  EXPECT_FALSE(dynamic_cast<const EndpointDiscovery*>(once->get())->discovery_file().watch);
}

TEST(FileDiscoveryTest, Validation) {
  const std::pair<const char*, const char*> cases[] = {
      {"{}", "path: missing required field"},
      {"{path: \"\"}", "path: must not be empty"},
      {"{path: a.yaml, watchFile: yes}", "watchFile: expected boolean"},
      {"{path: a.yaml, pollInterval: 1s}", "pollInterval: unknown field"},
  };
  testing::expect_parameter_errors(make, cases);
}

}  // namespace
}  // namespace llmd::sched::plugins
