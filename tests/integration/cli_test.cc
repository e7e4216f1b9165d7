// Black-box tests of the llmd binary's command line.

#include <gtest/gtest.h>

#include "support/process.h"

namespace llmd::testing {
namespace {

TEST(CliTest, VersionPrintsVersion) {
  auto p = spawn_llmd({"version"});
  EXPECT_EQ(p.wait(), 0);
  EXPECT_EQ(p.output().rfind("llmd ", 0), 0u) << p.output();
}

TEST(CliTest, HelpListsSubcommands) {
  auto p = spawn_llmd({"--help"});
  EXPECT_EQ(p.wait(), 0);
  EXPECT_NE(p.output().find("version"), std::string::npos) << p.output();
}

TEST(CliTest, UnknownSubcommandFails) {
  auto p = spawn_llmd({"no-such-command"});
  EXPECT_NE(p.wait(), 0);
}

TEST(CliTest, UnknownLogLevelFails) {
  auto p = spawn_llmd({"--log-level", "loud", "version"});
  EXPECT_EQ(p.wait(), 2);
  EXPECT_NE(p.output().find("unknown --log-level"), std::string::npos) << p.output();
}

TEST(CliTest, ProcessMoveAssignmentKeepsTheNewChild) {
  Process p = spawn_llmd({"version"});
  p = spawn_llmd({"--help"});
  EXPECT_EQ(p.wait(), 0);
  EXPECT_NE(p.output().find("version"), std::string::npos) << p.output();
}

}  // namespace
}  // namespace llmd::testing
