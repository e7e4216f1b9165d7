#include "sim/engine/engine.h"

#include <numeric>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace llmd::sim {
namespace {

using std::chrono::milliseconds;

Profile test_profile() {
  Profile p;
  p.name = "test";
  p.model = "test-model";
  p.step.base_ms = 10;                // 10 ms per step
  p.step.per_prefill_token_us = 100;  // + 0.1 ms per prefill token
  p.kv_cache_tokens = 1 << 20;
  p.kv_bytes_per_token = 1000;
  p.kv_link_gbytes_per_s = 1;  // 1 µs per token transferred
  p.max_model_len = 4096;
  return p;
}

class RecordingSink : public EventSink {
 public:
  void publish(kvevents::EventBatch batch) override { batches.push_back(std::move(batch)); }
  std::vector<kvevents::Event> all() const {
    std::vector<kvevents::Event> out;
    for (const auto& b : batches) out.insert(out.end(), b.events.begin(), b.events.end());
    return out;
  }
  std::vector<kvevents::EventBatch> batches;
};

std::vector<uint32_t> tokens(uint32_t first, uint32_t count) {
  std::vector<uint32_t> v(count);
  std::iota(v.begin(), v.end(), first);
  return v;
}

struct Harness {
  explicit Harness(EngineConfig cfg = {}, Profile p = test_profile())
      : engine((cfg.hash_seed = cfg.hash_seed.value_or("0"), cfg), std::move(p), clock, &sink) {}

  RequestHandle add(std::vector<uint32_t> prompt, uint32_t max_tokens, std::string lora = {}) {
    RequestSpec s;
    s.request_id = "req-" + std::to_string(next_id++);
    s.prompt = std::move(prompt);
    s.max_tokens = max_tokens;
    s.ignore_eos = true;
    s.lora = std::move(lora);
    auto h = engine.add_request(std::move(s));
    EXPECT_TRUE(h.has_value()) << h.error().message;
    return h.has_value() ? *h : 0;
  }
  StepInfo step() {
    StepInfo info = engine.begin_step();
    clock.advance(info.duration);
    engine.end_step(outputs);
    steps.push_back(info);
    return info;
  }
  void run() {
    for (int i = 0; i < 100000 && engine.has_work(); ++i) {
      if (step().num_scheduled == 0) break;
    }
  }
  const TokenOutput* finished(RequestHandle h) const {
    for (const auto& o : outputs) {
      if (o.handle == h && o.finished) return &o;
    }
    return nullptr;
  }

  ManualClock clock;
  RecordingSink sink;
  Engine engine;
  std::vector<TokenOutput> outputs;
  std::vector<StepInfo> steps;
  int next_id = 0;
};

TEST(EngineTest, SingleRequestTimingFollowsTheProfile) {
  Harness h;
  const auto r = h.add(tokens(1, 100), 3);
  h.run();
  // Step 1 prefills 100 tokens: 10 ms + 100 × 0.1 ms = 20 ms; steps 2-3 decode one token each.
  ASSERT_EQ(h.steps.size(), 3u);
  EXPECT_EQ(h.steps[0].duration, milliseconds(20));
  EXPECT_EQ(h.steps[0].shape.prefill_tokens, 100u);
  EXPECT_EQ(h.steps[1].shape.decode_seqs, 1u);
  EXPECT_EQ(h.steps[1].duration, milliseconds(10));
  const TokenOutput* f = h.finished(r);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->reason, FinishReason::kLength);
  EXPECT_EQ(f->num_output_tokens, 3u);
  EXPECT_EQ(f->times.first_token - f->times.arrival, milliseconds(20));
  EXPECT_EQ(f->times.finished - f->times.arrival, milliseconds(40));
  EXPECT_EQ(h.outputs[1].time - h.outputs[1].previous_token_time, milliseconds(10));
  EXPECT_EQ(h.engine.counters().generation_tokens, 3u);
  EXPECT_EQ(h.engine.counters().prompt_tokens, 100u);
  // Every block is free again, and the prompt's full blocks stay cached.
  EXPECT_EQ(h.engine.block_pool().num_free(), h.engine.block_pool().usable_blocks());
}

TEST(EngineTest, PrefixHitCutsPrefillByCachedBlocks) {
  Harness h;
  const auto prompt = tokens(1, 100);  // 6 full blocks of 16 + 4 tokens
  h.add(prompt, 1);
  h.run();
  h.steps.clear();
  auto second = prompt;
  second.push_back(999);
  const auto r2 = h.add(second, 1);
  h.run();
  ASSERT_EQ(h.steps.size(), 1u);
  // 6 cached blocks = 96 tokens; only 5 tokens are computed.
  EXPECT_EQ(h.steps[0].shape.prefill_tokens, 5u);
  EXPECT_EQ(h.finished(r2)->cached_tokens, 96u);
  EXPECT_EQ(h.engine.counters().prefix_cache_queries, 201u);
  EXPECT_EQ(h.engine.counters().prefix_cache_hits, 96u);
}

TEST(EngineTest, FullHitStillComputesTheLastToken) {
  Harness h;
  const auto prompt = tokens(1, 64);  // exactly 4 blocks
  h.add(prompt, 1);
  h.run();
  h.steps.clear();
  h.add(prompt, 1);
  h.run();
  // The hit is capped at prompt - 1 tokens, so the last block (16 tokens) is recomputed.
  EXPECT_EQ(h.steps[0].shape.prefill_tokens, 16u);
}

TEST(EngineTest, ChunkedPrefillRespectsTokenBudget) {
  EngineConfig cfg;
  cfg.max_num_batched_tokens = 64;
  Harness h(cfg);
  const auto a = h.add(tokens(1, 150), 2);
  const auto b = h.add(tokens(1000, 40), 2);
  h.run();
  for (const auto& s : h.steps) EXPECT_LE(s.num_tokens, 64u);
  // a: 64, 64, then its last 22 with all 40 of b's in the same step; then both decode.
  EXPECT_EQ(h.steps[0].num_tokens, 64u);
  EXPECT_EQ(h.steps[1].num_tokens, 64u);
  EXPECT_EQ(h.steps[2].num_tokens, 62u);
  EXPECT_EQ(h.steps[2].shape.prefill_tokens, 62u);
  EXPECT_NE(h.finished(a), nullptr);
  EXPECT_NE(h.finished(b), nullptr);
}

TEST(EngineTest, MaxNumSeqsCapsTheBatch) {
  EngineConfig cfg;
  cfg.max_num_seqs = 2;
  Harness h(cfg);
  for (int i = 0; i < 5; ++i) h.add(tokens(100 * i + 1, 8), 4);
  h.step();
  EXPECT_EQ(h.steps[0].num_scheduled, 2u);
  EXPECT_EQ(h.engine.snapshot().running, 2u);
  EXPECT_EQ(h.engine.snapshot().waiting, 3u);
  h.run();
  EXPECT_EQ(h.outputs.size(), 20u);
}

TEST(EngineTest, LruEvictsOldestFreedBlocksFirst) {
  EngineConfig cfg;
  cfg.num_gpu_blocks = 7;  // 6 usable blocks
  Harness h(cfg);
  h.add(tokens(1, 32), 1);  // blocks A0 A1 (the sampled token needs no new block)
  h.run();
  h.add(tokens(100, 32), 1);  // blocks B0 B1
  h.run();
  const auto before = h.sink.all().size();
  // Needs 3 blocks: takes the 2 never-used blocks, then evicts the LRU block. A was freed first,
  // tail block first, so A1 is evicted before A0.
  h.add(tokens(200, 40), 1);
  h.run();
  const auto events = h.sink.all();
  std::vector<uint64_t> removed;
  for (size_t i = before; i < events.size(); ++i) {
    if (auto* rm = std::get_if<kvevents::BlockRemoved>(&events[i])) removed.push_back(rm->block_hashes.at(0));
  }
  const kvevents::BlockHasher hasher("0");
  const auto tok = tokens(1, 32);
  const auto a0 = hasher.hash_block(nullptr, std::span(tok).subspan(0, 16), nullptr);
  const auto a1 = hasher.hash_block(&a0, std::span(tok).subspan(16, 16), nullptr);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0], kvevents::to_u64(a1));
  // A0 is still cached: a request for A's prefix hits one block.
  h.steps.clear();
  auto again = tokens(1, 16);
  again.push_back(7);
  h.add(again, 1);
  h.run();
  EXPECT_EQ(h.steps[0].shape.prefill_tokens, 1u);
}

TEST(EngineTest, PreemptsNewestRequestUnderKvPressure) {
  EngineConfig cfg;
  cfg.num_gpu_blocks = 7;  // 6 usable blocks of 16 tokens
  Harness h(cfg);
  const auto a = h.add(tokens(1, 32), 40);    // grows to 72 tokens: 5 blocks
  const auto b = h.add(tokens(500, 32), 40);  // grows to 72 tokens as well
  h.run();
  EXPECT_GT(h.engine.counters().preemptions, 0u);
  ASSERT_NE(h.finished(a), nullptr);
  ASSERT_NE(h.finished(b), nullptr);
  EXPECT_EQ(h.finished(a)->num_output_tokens, 40u);
  EXPECT_EQ(h.finished(b)->num_output_tokens, 40u);
  // The older request is never the victim: it finishes first, and b (recomputed) finishes last.
  EXPECT_LT(h.finished(a)->times.finished, h.finished(b)->times.finished);
  // Recompute: more prefill work than the two prompts, since b's generated tokens are redone.
  uint64_t prefill = 0;
  for (const auto& s : h.steps) prefill += s.shape.prefill_tokens;
  EXPECT_GT(prefill, 64u);
  EXPECT_EQ(h.engine.block_pool().num_free(), 6u);
}

TEST(EngineTest, BlockStoredEventsCarryVllmHashes) {
  Harness h;
  h.add(tokens(1, 40), 1);
  h.run();
  ASSERT_EQ(h.sink.batches.size(), 1u);
  const auto& batch = h.sink.batches[0];
  EXPECT_EQ(batch.data_parallel_rank, 0);
  EXPECT_DOUBLE_EQ(batch.ts, to_seconds(h.clock.wall_now()));
  ASSERT_EQ(batch.events.size(), 1u);
  const auto& st = std::get<kvevents::BlockStored>(batch.events[0]);
  EXPECT_EQ(st.block_hashes, (std::vector<uint64_t>{3236607068019569386ull, 2758186210834249151ull}));
  EXPECT_FALSE(st.parent_block_hash.has_value());
  EXPECT_EQ(st.token_ids, tokens(1, 32));
  EXPECT_EQ(st.block_size, 16);
  EXPECT_EQ(st.medium, "GPU");
  EXPECT_EQ(st.group_idx, 0);
  EXPECT_EQ(st.kv_cache_spec_kind, "full_attention");
  ASSERT_TRUE(st.extra_keys.has_value());
  EXPECT_EQ(st.extra_keys->size(), 2u);
  EXPECT_FALSE(st.extra_keys->at(0).has_value());
}

TEST(EngineTest, ChainedEventsNameTheirParent) {
  EngineConfig cfg;
  cfg.max_num_batched_tokens = 16;
  Harness h(cfg);
  h.add(tokens(1, 40), 1);
  h.run();
  std::vector<kvevents::BlockStored> stored;
  for (const auto& e : h.sink.all()) stored.push_back(std::get<kvevents::BlockStored>(e));
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[1].parent_block_hash, 3236607068019569386ull);
  EXPECT_EQ(stored[1].block_hashes, std::vector<uint64_t>{2758186210834249151ull});
}

TEST(EngineTest, LoraScopesThePrefixCacheAndTheEvents) {
  EngineConfig cfg;
  Harness h(cfg);
  ASSERT_TRUE(h.engine.load_lora("my-lora").has_value());
  EXPECT_FALSE(h.engine.load_lora("my-lora").has_value());
  h.add(tokens(1, 33), 1);
  h.run();
  h.steps.clear();
  h.add(tokens(1, 33), 1, "my-lora");
  h.run();
  // Same tokens, different adapter: no hit.
  EXPECT_EQ(h.steps[0].shape.prefill_tokens, 33u);
  const auto& st = std::get<kvevents::BlockStored>(h.sink.batches.back().events.at(0));
  EXPECT_EQ(st.lora_name, "my-lora");
  EXPECT_EQ(st.lora_id, 1);
  ASSERT_TRUE(st.extra_keys && st.extra_keys->at(0));
  EXPECT_EQ(st.extra_keys->at(0)->at(0), kvevents::ExtraKey::text("my-lora"));
  // Unknown adapters are refused.
  RequestSpec s;
  s.prompt = tokens(1, 4);
  s.lora = "nope";
  EXPECT_EQ(h.engine.add_request(s).error().code, ErrorCode::kNotFound);
}

TEST(EngineTest, CacheSaltChangesBlockZeroOnly) {
  Harness h;
  RequestSpec s;
  s.prompt = tokens(1, 16);
  s.prompt.push_back(99);
  s.max_tokens = 1;
  s.cache_salt = "salt123";
  ASSERT_TRUE(h.engine.add_request(s).has_value());
  h.run();
  const auto& st = std::get<kvevents::BlockStored>(h.sink.batches.at(0).events.at(0));
  const kvevents::BlockHasher hasher("0");
  const std::vector<kvevents::ExtraKey> salt = {kvevents::ExtraKey::text("salt123")};
  EXPECT_EQ(st.block_hashes.at(0), kvevents::to_u64(hasher.hash_block(nullptr, tokens(1, 16), &salt)));
}

TEST(EngineTest, LoraSlotsLimitDistinctAdaptersPerBatch) {
  EngineConfig cfg;
  cfg.max_loras = 1;
  Harness h(cfg);
  ASSERT_TRUE(h.engine.load_lora("a").has_value());
  ASSERT_TRUE(h.engine.load_lora("b").has_value());
  h.add(tokens(1, 8), 5, "a");
  h.add(tokens(100, 8), 5, "b");
  h.add(tokens(200, 8), 5);
  h.step();
  // "b" waits for a slot; the base-model request is not blocked behind it.
  EXPECT_EQ(h.steps[0].num_scheduled, 2u);
  const auto snap = h.engine.snapshot();
  EXPECT_EQ(snap.running_loras, std::vector<std::string>{"a"});
  EXPECT_EQ(snap.waiting_loras, std::vector<std::string>{"b"});
  h.run();
  EXPECT_EQ(h.outputs.size(), 15u);
}

TEST(EngineTest, PdPrefillHoldsBlocksUntilReleased) {
  Harness h;
  RequestSpec s;
  s.request_id = "pd-1";
  s.prompt = tokens(1, 40);
  s.max_tokens = 50;
  s.do_remote_decode = true;
  const auto r = h.engine.add_request(s).value();
  h.run();
  const TokenOutput* f = h.finished(r);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->num_output_tokens, 1u);  // max_tokens forced to 1
  EXPECT_EQ(f->reason, FinishReason::kLength);
  ASSERT_EQ(f->held_blocks.size(), 3u);
  const uint32_t usable = h.engine.block_pool().usable_blocks();
  EXPECT_EQ(h.engine.block_pool().num_free(), usable - 3);
  EXPECT_FALSE(h.engine.reset_prefix_cache());  // held blocks are in use
  EXPECT_EQ(h.engine.next_timer(), h.clock.now() + std::chrono::seconds(480));
  EXPECT_TRUE(h.engine.release_held("pd-1"));
  EXPECT_FALSE(h.engine.release_held("pd-1"));
  EXPECT_EQ(h.engine.block_pool().num_free(), usable);
  EXPECT_FALSE(h.engine.next_timer().has_value());
  EXPECT_TRUE(h.engine.reset_prefix_cache());
}

TEST(EngineTest, PdHeldBlocksTimeOut) {
  EngineConfig cfg;
  cfg.kv_transfer_timeout = std::chrono::seconds(5);
  Harness h(cfg);
  RequestSpec s;
  s.request_id = "pd-2";
  s.prompt = tokens(1, 40);
  s.do_remote_decode = true;
  ASSERT_TRUE(h.engine.add_request(s).has_value());
  h.run();
  std::vector<TransferNotice> notices;
  h.clock.advance(std::chrono::seconds(4));
  h.engine.run_timers(notices);
  EXPECT_LT(h.engine.block_pool().num_free(), h.engine.block_pool().usable_blocks());
  h.clock.advance(std::chrono::seconds(2));
  h.engine.run_timers(notices);
  EXPECT_EQ(h.engine.block_pool().num_free(), h.engine.block_pool().usable_blocks());
  EXPECT_EQ(h.engine.counters().held_timeouts, 1u);
  EXPECT_FALSE(h.engine.release_held("pd-2"));
}

TEST(EngineTest, PdDecodePaysTransferInsteadOfPrefill) {
  Harness h;
  RequestSpec s;
  s.request_id = "dec-1";
  s.prompt = tokens(1, 1000);
  s.max_tokens = 2;
  s.ignore_eos = true;
  s.do_remote_prefill = true;
  s.remote = RemotePrefill{"prefill-engine", "pd-1", "10.0.0.1", 8000};
  const auto r = h.engine.add_request(s).value();
  StepInfo first = h.engine.begin_step();
  EXPECT_EQ(first.num_scheduled, 0u);  // waiting for KV, not in the batch
  h.engine.end_step(h.outputs);
  EXPECT_EQ(h.engine.snapshot().waiting, 1u);
  // 1000 tokens × 1000 bytes at 1 GB/s = 1 ms.
  ASSERT_EQ(h.engine.next_timer(), h.clock.now() + milliseconds(1));
  h.clock.advance(milliseconds(1));
  std::vector<TransferNotice> notices;
  h.engine.run_timers(notices);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].remote.request_id, "pd-1");
  EXPECT_EQ(notices[0].remote.engine_id, "prefill-engine");
  // The transferred blocks are stored (62 full blocks), then one token is computed locally.
  const auto& st = std::get<kvevents::BlockStored>(h.sink.batches.back().events.at(0));
  EXPECT_EQ(st.block_hashes.size(), 62u);
  h.run();
  EXPECT_EQ(h.steps[0].shape.prefill_tokens, 1u);
  EXPECT_EQ(h.steps[0].duration, milliseconds(10) + std::chrono::microseconds(100));
  const TokenOutput* f = h.finished(r);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->cached_tokens, 999u);
  EXPECT_EQ(f->times.first_token - f->times.arrival, milliseconds(1) + std::chrono::microseconds(10100));
}

TEST(EngineTest, RejectsOverlongRequestsWithVllmMessages) {
  Harness h;
  RequestSpec s;
  s.prompt = tokens(1, 4096);
  auto r = h.engine.add_request(s);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      r.error().message,
      "This model's maximum context length is 4096 tokens. However, your request has 4096 input tokens. "
      "Please reduce the length of the input messages.");
  s.prompt = tokens(1, 100);
  s.max_tokens = 4000;
  r = h.engine.add_request(s);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(
      r.error().message,
      "'max_tokens' or 'max_completion_tokens' is too large: 4000. This model's maximum context length is "
      "4096 tokens and your request has 100 input tokens (4000 > 4096 - 100).");
  // A value past 32 bits is named as sent, not clamped.
  s.max_tokens = 1'000'000'000'000;
  r = h.engine.add_request(s);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("too large: 1000000000000."), std::string::npos) << r.error().message;
}

TEST(EngineTest, WaitingQueueIsBounded) {
  EngineConfig cfg;
  cfg.max_waiting = 2;
  Harness h(cfg);
  h.add(tokens(1, 4), 1);
  h.add(tokens(1, 4), 1);
  RequestSpec s;
  s.prompt = tokens(1, 4);
  auto r = h.engine.add_request(s);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(h.engine.counters().waiting_full, 1u);
}

TEST(EngineTest, SampledLengthsStopEarlyWithoutIgnoreEos) {
  Harness h;
  int stops = 0;
  std::vector<RequestHandle> hs;
  for (int i = 0; i < 50; ++i) {
    RequestSpec s;
    s.prompt = tokens(1 + i, 8);
    s.max_tokens = 200;
    hs.push_back(h.engine.add_request(s).value());
  }
  h.run();
  for (auto r : hs) {
    const TokenOutput* f = h.finished(r);
    ASSERT_NE(f, nullptr);
    EXPECT_GE(f->num_output_tokens, 1u);
    EXPECT_LE(f->num_output_tokens, 200u);
    if (f->reason == FinishReason::kStop) {
      ++stops;
      EXPECT_LT(f->num_output_tokens, 200u);
    } else {
      EXPECT_EQ(f->num_output_tokens, 200u);
    }
  }
  EXPECT_GT(stops, 25);  // 85 % of the histogram's mass lies below max_tokens
}

TEST(EngineTest, AbortFreesBlocks) {
  Harness h;
  const auto r = h.add(tokens(1, 64), 100);
  h.step();
  EXPECT_LT(h.engine.block_pool().num_free(), h.engine.block_pool().usable_blocks());
  EXPECT_TRUE(h.engine.abort(r));
  EXPECT_FALSE(h.engine.abort(r));
  EXPECT_EQ(h.engine.block_pool().num_free(), h.engine.block_pool().usable_blocks());
  EXPECT_FALSE(h.engine.has_work());
}

TEST(EngineTest, ResetPrefixCachePublishesAllBlocksCleared) {
  Harness h;
  h.add(tokens(1, 64), 1);
  h.run();
  ASSERT_TRUE(h.engine.reset_prefix_cache());
  ASSERT_TRUE(std::holds_alternative<kvevents::AllBlocksCleared>(h.sink.batches.back().events.at(0)));
  h.steps.clear();
  h.add(tokens(1, 64), 1);
  h.run();
  EXPECT_EQ(h.steps[0].shape.prefill_tokens, 64u);  // nothing cached any more
}

TEST(EngineTest, DeterministicAcrossRuns) {
  auto run = [] {
    Harness h;
    for (int i = 0; i < 20; ++i) {
      RequestSpec s;
      s.prompt = tokens(1, 50 + i);
      s.max_tokens = 64;
      EXPECT_TRUE(h.engine.add_request(s).has_value());
    }
    h.run();
    std::vector<uint32_t> lens;
    for (const auto& o : h.outputs) {
      if (o.finished) lens.push_back(o.num_output_tokens);
    }
    return lens;
  };
  EXPECT_EQ(run(), run());
}

}  // namespace
}  // namespace llmd::sim
