#include "sched/endpoint.h"

#include <gtest/gtest.h>

#include "sched/endpoint_state.h"

namespace llmd::sched {
namespace {

EndpointSpec spec(std::string id, std::string addr = "10.0.0.1", uint16_t port = 8000) {
  return EndpointSpec{std::move(id), std::move(addr), port, {}};
}

TEST(EndpointTest, IdFormat) {
  EXPECT_EQ(make_endpoint_id("default", "vllm-0", 0), "default/vllm-0-rank-0");
  EXPECT_EQ(make_endpoint_id("llm", "pod-x", 3), "llm/pod-x-rank-3");
}

TEST(EndpointStoreTest, StartsEmptyAndPublishesSortedSnapshots) {
  EndpointStore store;
  EXPECT_TRUE(store.snapshot()->endpoints.empty());
  ASSERT_TRUE(store.upsert(spec("ns/b-rank-0")));
  ASSERT_TRUE(store.upsert(spec("ns/a-rank-0", "fd00::1", 9000)));
  auto snap = store.snapshot();
  ASSERT_EQ(snap->endpoints.size(), 2u);
  EXPECT_EQ(snap->endpoints[0]->id, "ns/a-rank-0");
  EXPECT_EQ(snap->endpoints[0]->host_port, "[fd00::1]:9000");
  EXPECT_EQ(snap->endpoints[1]->host_port, "10.0.0.1:8000");
  EXPECT_EQ(snap->find("ns/b-rank-0"), snap->endpoints[1].get());
  EXPECT_EQ(snap->find("ns/c-rank-0"), nullptr);
  EXPECT_NE(snap->endpoints[0]->uid, snap->endpoints[1]->uid);
}

TEST(EndpointStoreTest, MetricsUpdatesPublishNewSnapshotsAndKeepOldOnesIntact) {
  EndpointStore store;
  ASSERT_TRUE(store.upsert(spec("ns/a-rank-0")));
  auto before = store.snapshot();
  EndpointMetrics m;
  m.waiting_queue_size = 7;
  m.kv_cache_usage = 0.5;
  m.update_time = Nanos{123};
  ASSERT_TRUE(store.update_metrics("ns/a-rank-0", m));
  EXPECT_FALSE(store.update_metrics("ns/zz-rank-0", m));
  auto after = store.snapshot();
  EXPECT_GT(after->version, before->version);
  EXPECT_EQ(before->endpoints[0]->metrics->waiting_queue_size, 0);
  EXPECT_EQ(after->endpoints[0]->metrics->waiting_queue_size, 7);
  EXPECT_EQ(after->endpoints[0]->metrics->update_time, Nanos{123});
  EXPECT_EQ(after->endpoints[0]->uid, before->endpoints[0]->uid);
}

TEST(EndpointStoreTest, ReplaceAllKeepsSurvivorsState) {
  EndpointStore store;
  ASSERT_TRUE(store.replace_all({spec("ns/a-rank-0"), spec("ns/b-rank-0")}));
  EndpointMetrics m;
  m.running_requests_size = 3;
  store.update_metrics("ns/a-rank-0", m);
  const uint64_t uid_a = store.snapshot()->find("ns/a-rank-0")->uid;
  const uint64_t uid_b = store.snapshot()->find("ns/b-rank-0")->uid;
  EndpointSpec relabeled = spec("ns/a-rank-0", "10.0.0.9");
  relabeled.labels["llm-d.ai/role"] = "decode";
  ASSERT_TRUE(store.replace_all({relabeled, spec("ns/c-rank-0")}));
  auto snap = store.snapshot();
  ASSERT_EQ(snap->endpoints.size(), 2u);
  const Endpoint* a = snap->find("ns/a-rank-0");
  EXPECT_EQ(a->uid, uid_a);
  EXPECT_EQ(a->metrics->running_requests_size, 3);
  EXPECT_EQ(a->address, "10.0.0.9");
  EXPECT_EQ(a->label("llm-d.ai/role"), "decode");
  EXPECT_EQ(snap->find("ns/b-rank-0"), nullptr);
  // Re-adding a removed id gives a new identity (its plugin state must not come back).
  ASSERT_TRUE(store.upsert(spec("ns/b-rank-0")));
  EXPECT_NE(store.snapshot()->find("ns/b-rank-0")->uid, uid_b);
}

TEST(EndpointStoreTest, RemoveAndValidation) {
  EndpointStore store;
  ASSERT_TRUE(store.upsert(spec("ns/a-rank-0")));
  EXPECT_TRUE(store.remove("ns/a-rank-0"));
  EXPECT_FALSE(store.remove("ns/a-rank-0"));
  EXPECT_FALSE(store.upsert(spec("")));
  EXPECT_FALSE(store.upsert(spec("ns/x-rank-0", "")));
  EXPECT_FALSE(store.upsert(spec("ns/x-rank-0", "10.0.0.1", 0)));
  auto dup = store.replace_all({spec("ns/a-rank-0"), spec("ns/a-rank-0")});
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message.find("duplicate endpoint id"), std::string::npos);
}

TEST(EndpointStateMapTest, CreatesOncePerEndpointAndPurges) {
  struct Counter {
    std::atomic<int> n{0};
  };
  EndpointStateMap<Counter> map;
  auto a = map.get_or_create(1);
  a->n = 5;
  EXPECT_EQ(map.get_or_create(1)->n.load(), 5);
  map.get_or_create(2);
  EXPECT_EQ(map.size(), 2u);
  EndpointSnapshot live;
  auto e = std::make_shared<Endpoint>();
  e->uid = 2;
  live.endpoints.push_back(e);
  map.retain_only(live);
  EXPECT_EQ(map.size(), 1u);
  EXPECT_EQ(map.find(1), nullptr);
  EXPECT_NE(map.find(2), nullptr);
}

}  // namespace
}  // namespace llmd::sched
