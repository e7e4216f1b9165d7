#include "datalayer/data_layer.h"

#include <chrono>
#include <functional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include "common/testing/eventually.h"
#include "common/testing/refused_port.h"
#include "http/testing/fake_upstream.h"

namespace llmd::datalayer {
namespace {

using http::testing::FakeUpstream;
using http::testing::vllm_metrics_page;

using llmd::testing::eventually;

EndpointTarget target(const std::string& name, uint16_t port,
                      Nanos interval = std::chrono::milliseconds(10)) {
  EndpointTarget t;
  t.spec.id = "default/" + name + "-rank-0";
  t.spec.address = "127.0.0.1";
  t.spec.port = port;
  t.scrape_interval = interval;
  return t;
}

// Serves `page` as /metrics from a started upstream.
Result<void> serve(FakeUpstream& u, std::string page) {
  u.set_metrics(std::move(page));
  return u.start();
}

class DataLayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this, i] { loops_[i].run(); });
  }
  void TearDown() override {
    if (data_) data_->stop();
    for (auto& g : guards_) g.reset();
    for (auto& l : loops_) l.stop();
    for (auto& t : threads_) t.join();
    data_.reset();
  }
  DataLayer& make(DataLayerOptions o) {
    data_ = std::make_unique<DataLayer>(store_, SystemClock::instance(), o);
    data_->attach({loops_[0].get_executor(), loops_[1].get_executor()});
    return *data_;
  }
  const sched::Endpoint* find(std::string_view id) {
    snap_ = store_.snapshot();
    return snap_->find(id);
  }

  sched::EndpointStore store_;
  boost::asio::io_context loops_[2];
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_[2] = {
      boost::asio::make_work_guard(loops_[0]), boost::asio::make_work_guard(loops_[1])};
  std::vector<std::thread> threads_;
  std::unique_ptr<DataLayer> data_;
  sched::SnapshotPtr snap_;
};

TEST_F(DataLayerTest, ScrapedEndpointsBecomeReadyWithTheirMetrics) {
  FakeUpstream a("a"), b("b");
  ASSERT_TRUE(serve(a, vllm_metrics_page(1, 2, 0.5, 16, 100)));
  ASSERT_TRUE(serve(b, vllm_metrics_page(3, 4, 0.75, 32, 200)));
  DataLayer& data = make({});
  ASSERT_TRUE(data.apply({target("a", a.port()), target("b", b.port())}));

  ASSERT_TRUE(eventually([&] { return store_.snapshot()->endpoints.size() == 2; }));
  const sched::Endpoint* ea = find("default/a-rank-0");
  ASSERT_NE(ea, nullptr);
  EXPECT_EQ(ea->metrics->waiting_queue_size, 1);
  EXPECT_EQ(ea->metrics->running_requests_size, 2);
  EXPECT_DOUBLE_EQ(ea->metrics->kv_cache_usage, 0.5);
  EXPECT_EQ(ea->metrics->cache_num_gpu_blocks, 100);
  EXPECT_GT(ea->metrics->update_time.count(), 0);
  const sched::Endpoint* eb = find("default/b-rank-0");
  ASSERT_NE(eb, nullptr);
  EXPECT_EQ(eb->metrics->waiting_queue_size, 3);
  EXPECT_EQ(eb->metrics->cache_block_size, 32);

  // New values are picked up by later scrapes.
  a.set_metrics(vllm_metrics_page(9, 8, 0.125));
  ASSERT_TRUE(eventually([&] {
    const sched::Endpoint* e = find("default/a-rank-0");
    return e != nullptr && e->metrics->waiting_queue_size == 9;
  }));
  EXPECT_EQ(find("default/a-rank-0")->metrics->running_requests_size, 8);

  auto status = data.status();
  ASSERT_EQ(status.size(), 2u);
  EXPECT_TRUE(status[0].ready);
  EXPECT_GT(status[0].scrapes, 0u);
  EXPECT_EQ(status[0].missing_metrics, "");
}

TEST_F(DataLayerTest, ScrapesAskForTheNeededSeriesByName) {
  FakeUpstream a("a"), b("b");
  ASSERT_TRUE(serve(a, vllm_metrics_page(1, 2, 0.5)));
  ASSERT_TRUE(serve(b, vllm_metrics_page(1, 2, 0.5)));
  DataLayerOptions plain;
  plain.scrape_by_name = false;
  EndpointTarget with_query = target("b", b.port());
  with_query.metrics_path = "/metrics?x=1";
  {
    DataLayer& data = make({});
    ASSERT_TRUE(data.apply({target("a", a.port()), with_query}));
    ASSERT_TRUE(eventually([&] { return store_.snapshot()->endpoints.size() == 2; }));
    const std::string names =
        "name%5B%5D=vllm%3Anum_requests_waiting&name%5B%5D=vllm%3Anum_requests_running&"
        "name%5B%5D=vllm%3Akv_cache_usage_perc&name%5B%5D=vllm%3Agpu_cache_usage_perc&"
        "name%5B%5D=vllm%3Acache_config_info&name%5B%5D=vllm%3Alora_requests_info";
    EXPECT_EQ(a.last_metrics_target(), "/metrics?" + names);
    EXPECT_EQ(b.last_metrics_target(), "/metrics?x=1&" + names);
    data.stop();
  }
  DataLayer& data = make(plain);
  const uint64_t before = a.metrics_requests();
  ASSERT_TRUE(data.apply({target("a", a.port())}));
  ASSERT_TRUE(eventually([&] { return a.metrics_requests() > before + 1; }));
  EXPECT_EQ(a.last_metrics_target(), "/metrics");
}

TEST_F(DataLayerTest, MissingMetricsCountAsZeroAndFailedScrapesKeepAnEndpointOut) {
  FakeUpstream bare("bare"), broken("broken");
  bare.set_metrics("python_gc_objects_collected_total 1\n");
  broken.set_metrics_status(500);
  ASSERT_TRUE(bare.start());
  ASSERT_TRUE(broken.start());
  DataLayer& data = make({});
  ASSERT_TRUE(data.apply({target("bare", bare.port()), target("broken", broken.port())}));

  ASSERT_TRUE(eventually([&] { return find("default/bare-rank-0") != nullptr; }));
  EXPECT_EQ(find("default/bare-rank-0")->metrics->waiting_queue_size, 0);
  ASSERT_TRUE(eventually([&] { return broken.metrics_requests() >= 5; }));
  EXPECT_EQ(find("default/broken-rank-0"), nullptr);
  for (const auto& s : data.status()) {
    if (s.target.spec.id == "default/bare-rank-0") {
      EXPECT_EQ(s.missing_metrics, "waiting_queue_size,running_requests_size,kv_cache_usage");
    } else {
      EXPECT_FALSE(s.ready);
      EXPECT_EQ(s.last_error, "metrics: HTTP 500");
      EXPECT_GT(s.failures, 0u);
    }
  }
}

TEST_F(DataLayerTest, StaleEndpointLeavesAndReturns) {
  FakeUpstream a("a");
  a.set_metrics(vllm_metrics_page(0, 0, 0.1));
  ASSERT_TRUE(a.start());
  DataLayerOptions o;
  o.staleness_threshold = std::chrono::milliseconds(100);
  DataLayer& data = make(o);
  ASSERT_TRUE(data.apply({target("a", a.port())}));
  ASSERT_TRUE(eventually([&] { return find("default/a-rank-0") != nullptr; }));
  const uint64_t uid = find("default/a-rank-0")->uid;

  a.set_metrics_status(503);
  ASSERT_TRUE(eventually([&] { return find("default/a-rank-0") == nullptr; }));
  a.set_metrics_status(200);
  ASSERT_TRUE(eventually([&] { return find("default/a-rank-0") != nullptr; }));
  EXPECT_NE(find("default/a-rank-0")->uid, uid);  // a returning endpoint starts with fresh plugin state
}

TEST_F(DataLayerTest, DeadEndpointNeverJoins) {
  const llmd::testing::RefusedPort dead;  // connects are refused for the whole test
  DataLayer& data = make({});
  ASSERT_TRUE(data.apply({target("dead", dead.port())}));
  ASSERT_TRUE(eventually([&] { return !data.status().empty() && data.status()[0].failures >= 3; }));
  EXPECT_TRUE(store_.snapshot()->endpoints.empty());
  EXPECT_NE(data.status()[0].last_error.find("connect"), std::string::npos) << data.status()[0].last_error;
}

TEST_F(DataLayerTest, ApplyAddsRemovesAndUnscrapedEndpointsAreReadyAtOnce) {
  FakeUpstream a("a"), b("b");
  ASSERT_TRUE(serve(a, vllm_metrics_page(0, 0, 0)));
  ASSERT_TRUE(serve(b, vllm_metrics_page(0, 0, 0)));
  DataLayer& data = make({});
  ASSERT_TRUE(data.apply({target("a", a.port()), target("b", b.port()), target("static", 1, Nanos(0))}));
  EXPECT_NE(find("default/static-rank-0"), nullptr);  // no scrape needed
  ASSERT_TRUE(eventually([&] { return store_.snapshot()->endpoints.size() == 3; }));

  ASSERT_TRUE(data.apply({target("a", a.port())}));
  const uint64_t at_removal = b.metrics_requests();
  EXPECT_EQ(store_.snapshot()->endpoints.size(), 1u);
  EXPECT_NE(find("default/a-rank-0"), nullptr);
  // b's scraper stops. One scrape may still reach b: one in flight, or one that passed its stop check
  // just before apply() returned. A scraper that kept going would send about 50 in this time.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_LE(b.metrics_requests(), at_removal + 1);

  // Duplicate ids are refused and change nothing.
  auto dup = data.apply({target("a", a.port()), target("a", b.port())});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kConfig);
  EXPECT_EQ(data.status().size(), 1u);
}

TEST_F(DataLayerTest, NamedEndpointsAreResolvedAndScrapesKeepTheirConnection) {
  FakeUpstream a("a");
  a.set_metrics(vllm_metrics_page(5, 1, 0.25));
  ASSERT_TRUE(a.start());
  DataLayerOptions o;
  o.models_interval = Nanos(0);  // only scrapes reach the server
  DataLayer& data = make(o);
  EndpointTarget t = target("a", a.port());
  t.spec.address = "localhost";  // may resolve to ::1 first, where nothing listens: the next address serves
  ASSERT_TRUE(data.apply({t}));
  ASSERT_TRUE(eventually([&] {
    const sched::Endpoint* e = find("default/a-rank-0");
    return e != nullptr && e->metrics->waiting_queue_size == 5 && a.metrics_requests() >= 10;
  }));
  EXPECT_EQ(a.connections(), 1u);  // ten scrapes or more, one kept connection
  EXPECT_EQ(data.status()[0].last_error, "");
}

TEST_F(DataLayerTest, ModelIndexMergesReadyEndpoints) {
  FakeUpstream a("a"), b("b");
  a.set_models({"base"});
  b.set_models({"base", "lora-1"});
  ASSERT_TRUE(serve(a, vllm_metrics_page(0, 0, 0)));
  ASSERT_TRUE(serve(b, vllm_metrics_page(0, 0, 0)));
  DataLayer& data = make({});
  ASSERT_TRUE(data.apply({target("a", a.port()), target("b", b.port())}));
  // Both endpoints ready and both lists in (servers is keyed by model, so b's list alone has two keys).
  ASSERT_TRUE(eventually([&] {
    auto i = data.models();
    const auto base = i->servers.find("base");
    return i->ready_endpoints == 2 && i->complete && base != i->servers.end() && base->second.size() == 2;
  }));
  auto idx = data.models();
  EXPECT_EQ(idx->ready_endpoints, 2u);
  EXPECT_EQ(idx->servers.size(), 2u);
  EXPECT_EQ(idx->restrict_to("base"), nullptr);  // everybody serves it
  const auto* lora = idx->restrict_to("lora-1");
  ASSERT_NE(lora, nullptr);
  ASSERT_EQ(lora->size(), 1u);
  EXPECT_EQ((*lora)[0], "127.0.0.1:" + std::to_string(b.port()));
  const auto* unknown = idx->restrict_to("nope");
  ASSERT_NE(unknown, nullptr);
  EXPECT_TRUE(unknown->empty());
  // The merged list carries each model once, as its first endpoint described it.
  ASSERT_EQ(idx->objects.size(), 2u);
  std::string all;
  for (const auto& o : idx->objects) all += o + "\n";
  EXPECT_NE(all.find(R"("id":"base","object":"model","owned_by":"a")"), std::string::npos) << all;
  EXPECT_NE(all.find(R"("id":"lora-1")"), std::string::npos) << all;
  EXPECT_EQ(all.find(R"("id":"base")"), all.rfind(R"("id":"base")")) << all;  // listed once
}

}  // namespace
}  // namespace llmd::datalayer
