#include "common/host_port.h"

#include <gtest/gtest.h>

namespace llmd {
namespace {

TEST(HostPort, BracketsIpv6LiteralsOnly) {
  EXPECT_EQ(host_port("127.0.0.1", 8000), "127.0.0.1:8000");
  EXPECT_EQ(host_port("vllm-0.ns.svc", 80), "vllm-0.ns.svc:80");
  EXPECT_EQ(host_port("::1", 8000), "[::1]:8000");
  EXPECT_EQ(host_port("fd00::a:1", 65535), "[fd00::a:1]:65535");
  EXPECT_EQ(host_port("[::1]", 1), "[::1]:1");  // already in URL form
  std::string out = "x=";
  append_host_port(out, "10.0.0.1", 0);
  EXPECT_EQ(out, "x=10.0.0.1:0");
}

}  // namespace
}  // namespace llmd
