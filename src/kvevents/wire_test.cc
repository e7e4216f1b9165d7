#include "kvevents/wire.h"

#include <gtest/gtest.h>

namespace llmd::kvevents {
namespace {

TEST(WireTest, SequenceIsEightBytesBigEndian) {
  EXPECT_EQ(encode_seq(42), std::string("\0\0\0\0\0\0\0\x2a", 8));
  EXPECT_EQ(decode_seq(encode_seq(0x0102030405060708ull)), 0x0102030405060708ull);
  EXPECT_EQ(decode_seq(encode_seq(kReplayEndSeq)), kReplayEndSeq);
  EXPECT_EQ(encode_seq(kReplayEndSeq), std::string(8, '\xff'));
  EXPECT_FALSE(decode_seq("1234567").has_value());
}

TEST(WireTest, TopicFollowsLlmdConvention) {
  EXPECT_EQ(make_topic("10.0.0.1:8000", "Qwen/Qwen3-8B"), "kv@10.0.0.1:8000@Qwen/Qwen3-8B");
  auto p = parse_topic("kv@10.0.0.1:8000@Qwen/Qwen3-8B");
  EXPECT_EQ(p.pod, "10.0.0.1:8000");
  EXPECT_EQ(p.model, "Qwen/Qwen3-8B");
  auto whole = parse_topic("kv@a@b@c");
  EXPECT_EQ(whole.pod, "kv@a@b@c");
  EXPECT_EQ(whole.model, "");
  EXPECT_EQ(parse_topic("").pod, "");
}

TEST(WireTest, BindConnectRule) {
  EXPECT_TRUE(endpoint_binds("tcp://*:5557"));
  EXPECT_TRUE(endpoint_binds("tcp://[::]:5557"));
  EXPECT_TRUE(endpoint_binds("ipc:///tmp/kv"));
  EXPECT_TRUE(endpoint_binds("inproc://kv"));
  EXPECT_FALSE(endpoint_binds("tcp://indexer:5557"));
  EXPECT_FALSE(endpoint_binds("tcp://0.0.0.0:5557"));  // vLLM's heuristic connects here
}

TEST(WireTest, OffsetEndpoint) {
  EXPECT_EQ(offset_endpoint("tcp://*:5557", 0), "tcp://*:5557");
  EXPECT_EQ(offset_endpoint("tcp://*:5557", 3), "tcp://*:5560");
  EXPECT_EQ(offset_endpoint("tcp://[::]:5557", 1), "tcp://[::]:5558");
  EXPECT_EQ(offset_endpoint("ipc:///tmp/kv", 2), "ipc:///tmp/kv_dp2");
  EXPECT_FALSE(offset_endpoint("tcp://*:65535", 1).has_value());
  EXPECT_FALSE(offset_endpoint("tcp://host", 1).has_value());
}

}  // namespace
}  // namespace llmd::kvevents
