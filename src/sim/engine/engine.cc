#include "sim/engine/engine.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "sim/engine/tokenizer.h"

namespace llmd::sim {

using kvevents::Digest;
using kvevents::ExtraKey;

std::string_view to_string(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kAbort:
      return "abort";
  }
  return "stop";
}

struct Engine::Req {
  enum class State { kWaiting, kRunning, kRemoteKv, kHeld };
  RequestHandle handle = 0;
  RequestSpec spec;
  std::vector<uint32_t> tokens;  // prompt, then output
  uint32_t num_prompt = 0;
  uint32_t max_tokens = 0;
  uint32_t target_output = 0;
  uint32_t num_output = 0;
  uint32_t num_computed = 0;
  std::vector<uint32_t> blocks;
  uint32_t num_cached_blocks = 0;     // leading blocks of `blocks` already registered in the pool
  std::vector<Digest> hashes;         // of the full blocks of `tokens`
  std::vector<ExtraKey> extra_first;  // block 0: LoRA name, cache salt
  std::vector<ExtraKey> extra_rest;   // other blocks: LoRA name
  std::optional<int64_t> lora_id;
  State state = State::kWaiting;
  bool ever_scheduled = false;
  bool cached_tokens_set = false;
  bool transferred = false;
  uint32_t cached_tokens = 0;
  RequestTimes times;
  Nanos last_token{0};
  Nanos deadline{0};  // kRemoteKv: KV lands; kHeld: blocks freed
};

Engine::Engine(EngineConfig config, Profile profile, const Clock& clock, EventSink* sink)
    : config_(std::move(config)),
      profile_(std::move(profile)),
      clock_(clock),
      sink_(sink),
      rng_(config_.seed),
      hasher_(config_.hash_seed, rng_),
      pool_([&] {
        if (config_.block_size == 0) config_.block_size = 16;
        if (config_.num_gpu_blocks == 0) {
          config_.num_gpu_blocks = static_cast<uint32_t>(profile_.kv_cache_tokens / config_.block_size) + 1;
        }
        if (config_.max_model_len == 0) config_.max_model_len = profile_.max_model_len;
        if (config_.max_num_batched_tokens == 0) config_.max_num_batched_tokens = 8192;
        if (config_.max_num_seqs == 0) config_.max_num_seqs = 256;
        if (config_.output_tokens.empty()) config_.output_tokens = filler_tokens();
        return config_.num_gpu_blocks;
      }()) {}

Engine::~Engine() = default;

std::optional<int64_t> Engine::lora_id(const std::string& name) const {
  auto it = loras_.find(name);
  if (it == loras_.end()) return std::nullopt;
  return it->second;
}

Result<void> Engine::load_lora(const std::string& name) {
  if (name.empty()) return make_error(ErrorCode::kInvalidArgument, "LoRA name must not be empty");
  if (loras_.contains(name)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "The lora adapter '" + name + "' has already been loaded.");
  }
  loras_.emplace(name, next_lora_id_++);
  return {};
}

Result<void> Engine::unload_lora(const std::string& name) {
  if (loras_.erase(name) == 0) {
    return make_error(ErrorCode::kNotFound, "The lora adapter '" + name + "' cannot be found.");
  }
  return {};
}

std::vector<std::string> Engine::loras() const {
  std::vector<std::string> out;
  for (const auto& [name, id] : loras_) out.push_back(name);
  return out;
}

uint32_t Engine::sample_output_length(const RequestSpec& spec, uint32_t limit, bool explicit_max) {
  if (spec.ignore_eos || limit <= 1) return limit;
  if (!explicit_max) {
    // llm-d-inference-sim without max_tokens: Gaussian, mean 40, sd 20 (Box-Muller).
    const double u1 = std::max(rng_.uniform(), 1e-12);
    const double u2 = rng_.uniform();
    const double g = 40.0 + 20.0 * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
    return static_cast<uint32_t>(std::clamp<double>(std::round(g), 1.0, limit));
  }
  // llm-d-inference-sim's histogram over [1, max_tokens]: six buckets with probabilities
  // 20/30/20/5/10/15 %; past 120 tokens buckets 1,2,3,5,6 are 20 wide and bucket 4 takes the rest.
  static constexpr double kProb[6] = {0.20, 0.30, 0.20, 0.05, 0.10, 0.15};
  double u = rng_.uniform();
  size_t bucket = 5;
  for (size_t i = 0; i < 6; ++i) {
    if (u < kProb[i]) {
      bucket = i;
      break;
    }
    u -= kProb[i];
  }
  uint64_t lo = 1, hi = limit;
  if (limit > 120) {
    const uint64_t starts[6] = {1, 21, 41, 61, limit - 39, limit - 19};
    const uint64_t ends[6] = {20, 40, 60, limit - 40, limit - 20, limit};
    lo = starts[bucket];
    hi = ends[bucket];
  } else {
    const double w = static_cast<double>(limit) / 6.0;
    lo = 1 + static_cast<uint64_t>(std::floor(w * static_cast<double>(bucket)));
    hi = std::max<uint64_t>(lo, static_cast<uint64_t>(std::floor(w * static_cast<double>(bucket + 1))));
  }
  return static_cast<uint32_t>(std::min<uint64_t>(lo + rng_.below(hi - lo + 1), limit));
}

Result<RequestHandle> Engine::add_request(RequestSpec spec) {
  const uint64_t prompt_len = spec.prompt.size();
  const uint64_t max_len = config_.max_model_len;
  if (prompt_len == 0) return make_error(ErrorCode::kInvalidArgument, "The prompt must not be empty.");
  if (prompt_len >= max_len) {
    return make_error(ErrorCode::kInvalidArgument,
                      "This model's maximum context length is " + std::to_string(max_len) +
                          " tokens. However, your request has " + std::to_string(prompt_len) +
                          " input tokens. Please reduce the length of the input messages.");
  }
  if (spec.max_tokens && prompt_len + *spec.max_tokens > max_len) {
    const std::string mt = std::to_string(*spec.max_tokens);
    return make_error(ErrorCode::kInvalidArgument,
                      "'max_tokens' or 'max_completion_tokens' is too large: " + mt +
                          ". This model's maximum context length is " + std::to_string(max_len) +
                          " tokens and your request has " + std::to_string(prompt_len) + " input tokens (" +
                          mt + " > " + std::to_string(max_len) + " - " + std::to_string(prompt_len) + ").");
  }
  if (spec.max_tokens && *spec.max_tokens == 0) {
    return make_error(ErrorCode::kInvalidArgument, "max_tokens must be at least 1, got 0.");
  }
  std::optional<int64_t> lora;
  if (!spec.lora.empty()) {
    lora = lora_id(spec.lora);
    if (!lora) {
      return make_error(ErrorCode::kNotFound, "The model `" + spec.lora + "` does not exist.");
    }
  }
  if (waiting_.size() >= config_.max_waiting) {
    ++counters_.waiting_full;
    return make_error(ErrorCode::kResourceExhausted, "The waiting queue is full.");
  }

  auto r = std::make_unique<Req>();
  r->handle = next_handle_++;
  r->num_prompt = static_cast<uint32_t>(prompt_len);
  r->tokens = spec.prompt;
  r->lora_id = lora;
  const bool explicit_max = spec.max_tokens.has_value();
  // Checked above: prompt_len + max_tokens <= max_len, so it fits.
  r->max_tokens = static_cast<uint32_t>(explicit_max ? *spec.max_tokens : max_len - prompt_len);
  if (spec.do_remote_decode) r->max_tokens = 1;  // the prefill leg of P/D stops after one token
  r->target_output = spec.do_remote_decode ? 1 : sample_output_length(spec, r->max_tokens, explicit_max);
  if (!spec.lora.empty()) {
    r->extra_first.push_back(ExtraKey::text(spec.lora));
    r->extra_rest.push_back(ExtraKey::text(spec.lora));
  }
  if (spec.cache_salt && !spec.cache_salt->empty())
    r->extra_first.push_back(ExtraKey::text(*spec.cache_salt));
  r->times.arrival = spec.arrival.value_or(clock_.now());
  r->spec = std::move(spec);
  r->spec.prompt.clear();
  r->spec.prompt.shrink_to_fit();
  const RequestHandle h = r->handle;
  waiting_.push_back(r.get());
  requests_.emplace(h, std::move(r));
  return h;
}

const std::vector<ExtraKey>* Engine::extra_keys_for(const Req& r, size_t block) const {
  const auto& keys = block == 0 ? r.extra_first : r.extra_rest;
  return keys.empty() ? nullptr : &keys;
}

void Engine::ensure_hashes(Req& r, size_t num_blocks) {
  const size_t bs = config_.block_size;
  num_blocks = std::min(num_blocks, r.tokens.size() / bs);
  // Sized once for the whole prompt: lookups extend the chain a block at a time.
  if (r.hashes.capacity() < num_blocks) r.hashes.reserve(r.tokens.size() / bs);
  while (r.hashes.size() < num_blocks) {
    const size_t i = r.hashes.size();
    const Digest* parent = i == 0 ? nullptr : &r.hashes[i - 1];
    r.hashes.push_back(
        hasher_.hash_block(parent, std::span(r.tokens).subspan(i * bs, bs), extra_keys_for(r, i)));
  }
}

void Engine::find_cached_prefix(Req& r, std::vector<uint32_t>& hits) {
  hits.clear();
  const size_t max_blocks = (r.tokens.size() - 1) / config_.block_size;
  for (size_t i = 0; i < max_blocks; ++i) {
    ensure_hashes(r, i + 1);
    const int64_t b = pool_.lookup(r.hashes[i]);
    if (b < 0) break;
    hits.push_back(static_cast<uint32_t>(b));
  }
}

bool Engine::allocate_slots(Req& r, uint32_t num_new, const std::vector<uint32_t>& hits, bool cache_blocks) {
  const uint32_t bs = config_.block_size;
  const uint64_t computed = r.num_computed + static_cast<uint64_t>(hits.size()) * bs;
  const uint64_t total = computed + num_new;
  const uint64_t have = r.blocks.size() + hits.size();
  const uint64_t want = (total + bs - 1) / bs;
  const uint64_t need = want > have ? want - have : 0;
  uint64_t evictable_hits = 0;
  for (uint32_t b : hits) evictable_hits += pool_.ref_count(b) == 0 ? 1 : 0;
  if (need + evictable_hits > pool_.num_free()) return false;
  for (uint32_t b : hits) {
    pool_.touch(b);
    r.blocks.push_back(b);
  }
  r.num_cached_blocks += static_cast<uint32_t>(hits.size());
  r.num_computed = static_cast<uint32_t>(computed);
  evicted_.clear();
  pool_.allocate(static_cast<uint32_t>(need), r.blocks, evicted_);
  if (config_.kv_events) {
    for (const auto& h : evicted_) {
      kvevents::BlockRemoved e;
      e.block_hashes = {kvevents::to_u64(h)};
      e.medium = std::string(kvevents::kMediumGpu);
      e.group_idx = 0;
      events_.push_back(std::move(e));
    }
  }
  if (cache_blocks) cache_full_blocks(r, std::min<uint64_t>(total, r.tokens.size()));
  return true;
}

void Engine::cache_full_blocks(Req& r, size_t upto_tokens) {
  const uint32_t bs = config_.block_size;
  const size_t full = std::min(upto_tokens / bs, r.blocks.size());
  if (full <= r.num_cached_blocks) return;
  ensure_hashes(r, full);
  const size_t first = r.num_cached_blocks;
  for (size_t i = first; i < full; ++i) pool_.cache(r.blocks[i], r.hashes[i]);
  r.num_cached_blocks = static_cast<uint32_t>(full);
  if (!config_.kv_events) return;
  kvevents::BlockStored e;
  e.block_hashes.reserve(full - first);
  for (size_t i = first; i < full; ++i) e.block_hashes.push_back(kvevents::to_u64(r.hashes[i]));
  if (first > 0) e.parent_block_hash = kvevents::to_u64(r.hashes[first - 1]);
  e.token_ids.assign(r.tokens.begin() + static_cast<ptrdiff_t>(first * bs),
                     r.tokens.begin() + static_cast<ptrdiff_t>(full * bs));
  e.block_size = bs;
  e.lora_id = r.lora_id;
  e.medium = std::string(kvevents::kMediumGpu);
  if (r.lora_id) e.lora_name = r.spec.lora;
  std::vector<kvevents::BlockExtraKeys> extra;
  extra.reserve(full - first);
  for (size_t i = first; i < full; ++i) {
    const auto* keys = extra_keys_for(r, i);
    extra.push_back(keys ? kvevents::BlockExtraKeys(*keys) : std::nullopt);
  }
  e.extra_keys = std::move(extra);
  e.group_idx = 0;
  e.kv_cache_spec_kind = "full_attention";
  events_.push_back(std::move(e));
}

void Engine::free_blocks(Req& r) {
  // vLLM frees a request's blocks tail first, so its last blocks are evicted before its prefix.
  std::reverse(r.blocks.begin(), r.blocks.end());
  pool_.release(r.blocks);
  r.blocks.clear();
  r.num_cached_blocks = 0;
}

void Engine::preempt(Req& r) {
  free_blocks(r);
  r.num_computed = 0;
  r.state = Req::State::kWaiting;
  ++counters_.preemptions;
  waiting_.push_front(&r);
}

void Engine::erase(Req& r) { requests_.erase(r.handle); }

void Engine::finish(Req& r, FinishReason reason, TokenOutput& out) {
  r.times.finished = clock_.now();
  out.finished = true;
  out.reason = reason;
  out.times = r.times;
  if (r.spec.do_remote_decode && reason != FinishReason::kAbort) {
    // P/D prefill leg: keep the prompt's blocks for the decode side to pull.
    out.held_blocks = r.blocks;
    r.state = Req::State::kHeld;
    r.deadline = r.times.finished + config_.kv_transfer_timeout;
    auto [it, inserted] = held_.emplace(r.spec.request_id, &r);
    if (!inserted) {
      // A duplicate request id: the older hold is released so its blocks cannot leak.
      Req* old = it->second;
      free_blocks(*old);
      erase(*old);
      it->second = &r;
    }
    return;
  }
  free_blocks(r);
  erase(r);
}

bool Engine::abort(RequestHandle handle) {
  auto it = requests_.find(handle);
  if (it == requests_.end()) return false;
  Req& r = *it->second;
  switch (r.state) {
    case Req::State::kWaiting:
      waiting_.erase(std::find(waiting_.begin(), waiting_.end(), &r));
      break;
    case Req::State::kRunning:
      running_.erase(std::find(running_.begin(), running_.end(), &r));
      break;
    case Req::State::kRemoteKv:
      remote_.erase(std::find(remote_.begin(), remote_.end(), &r));
      break;
    case Req::State::kHeld:
      return false;  // finished; only release_held frees it
  }
  free_blocks(r);
  erase(r);
  return true;
}

bool Engine::release_held(std::string_view request_id) {
  auto it = held_.find(std::string(request_id));
  if (it == held_.end()) return false;
  Req* r = it->second;
  held_.erase(it);
  free_blocks(*r);
  erase(*r);
  return true;
}

bool Engine::reset_prefix_cache() {
  if (!pool_.reset()) return false;
  if (config_.kv_events) {
    events_.push_back(kvevents::AllBlocksCleared{});
    flush_events();
  }
  return true;
}

std::optional<Nanos> Engine::next_timer() const {
  std::optional<Nanos> t;
  for (const Req* r : remote_) {
    if (!t || r->deadline < *t) t = r->deadline;
  }
  for (const auto& [id, r] : held_) {
    if (!t || r->deadline < *t) t = r->deadline;
  }
  return t;
}

void Engine::run_timers(std::vector<TransferNotice>& notices) {
  const Nanos now = clock_.now();
  for (size_t i = 0; i < remote_.size();) {
    Req& r = *remote_[i];
    if (r.deadline > now) {
      ++i;
      continue;
    }
    // The prompt's KV has landed: register the blocks (vLLM caches them once loaded) and leave the
    // last prompt token to compute locally, which samples the first output token.
    r.num_computed = r.num_prompt;
    cache_full_blocks(r, r.num_prompt);
    if (r.num_computed == r.tokens.size()) --r.num_computed;
    r.transferred = true;
    r.state = Req::State::kWaiting;
    notices.push_back(TransferNotice{r.spec.remote});
    remote_.erase(remote_.begin() + static_cast<ptrdiff_t>(i));
    waiting_.push_front(&r);
  }
  for (auto it = held_.begin(); it != held_.end();) {
    Req* r = it->second;
    if (r->deadline > now) {
      ++it;
      continue;
    }
    ++counters_.held_timeouts;
    it = held_.erase(it);
    free_blocks(*r);
    erase(*r);
  }
  flush_events();
}

StepInfo Engine::begin_step() {
  step_start_ = clock_.now();
  scheduled_.clear();
  uint32_t budget = config_.max_num_batched_tokens;
  bool preempted = false;

  // Running requests first.
  for (size_t i = 0; i < running_.size() && budget > 0;) {
    Req* r = running_[i];
    uint32_t num_new = static_cast<uint32_t>(r->tokens.size()) - r->num_computed;
    num_new = std::min(num_new, budget);
    if (num_new == 0) {
      ++i;
      continue;
    }
    bool allocated = false;
    while (true) {
      hits_.clear();
      if (allocate_slots(*r, num_new, hits_)) {
        allocated = true;
        break;
      }
      Req* victim = running_.back();
      running_.pop_back();
      preempt(*victim);
      preempted = true;
      if (victim == r) break;
    }
    if (!allocated) break;
    scheduled_.push_back({r, num_new});
    budget -= num_new;
    ++i;
  }

  // Then waiting requests, unless this step preempted.
  if (!preempted) {
    std::vector<Req*> skipped;
    std::vector<int64_t> batch_loras;
    for (const Req* r : running_) {
      if (r->lora_id && std::find(batch_loras.begin(), batch_loras.end(), *r->lora_id) == batch_loras.end()) {
        batch_loras.push_back(*r->lora_id);
      }
    }
    while (!waiting_.empty() && budget > 0 && running_.size() < config_.max_num_seqs) {
      Req* r = waiting_.front();
      if (r->lora_id && std::find(batch_loras.begin(), batch_loras.end(), *r->lora_id) == batch_loras.end()) {
        if (batch_loras.size() >= config_.max_loras) {
          waiting_.pop_front();
          skipped.push_back(r);
          continue;
        }
      }
      const bool fresh = r->num_computed == 0;
      hits_.clear();
      if (fresh) find_cached_prefix(*r, hits_);
      const uint32_t hit_tokens = static_cast<uint32_t>(hits_.size()) * config_.block_size;

      if (r->spec.do_remote_prefill && !r->transferred) {
        // P/D decode leg: allocate the whole prompt and wait for the transfer, outside the batch.
        const uint32_t rest = r->num_prompt - hit_tokens;
        if (!allocate_slots(*r, rest, hits_, /*cache_blocks=*/false)) break;
        r->num_computed = hit_tokens;
        if (!r->ever_scheduled) {
          r->ever_scheduled = true;
          r->times.scheduled = step_start_;
          counters_.prefix_cache_queries += r->num_prompt;
          counters_.prefix_cache_hits += hit_tokens;
        }
        r->state = Req::State::kRemoteKv;
        r->deadline = step_start_ + profile_.transfer_time(rest);
        waiting_.pop_front();
        remote_.push_back(r);
        continue;
      }

      uint32_t num_new = static_cast<uint32_t>(r->tokens.size()) - r->num_computed - hit_tokens;
      num_new = std::min(num_new, budget);
      if (!allocate_slots(*r, num_new, hits_)) break;
      waiting_.pop_front();
      if (!r->ever_scheduled) {
        r->ever_scheduled = true;
        r->times.scheduled = step_start_;
        counters_.prefix_cache_queries += r->num_prompt;
        counters_.prefix_cache_hits += hit_tokens;
      }
      if (!r->cached_tokens_set) {
        r->cached_tokens_set = true;
        r->cached_tokens = std::min(r->num_computed, r->num_prompt);
      }
      r->state = Req::State::kRunning;
      running_.push_back(r);
      if (r->lora_id && std::find(batch_loras.begin(), batch_loras.end(), *r->lora_id) == batch_loras.end()) {
        batch_loras.push_back(*r->lora_id);
      }
      scheduled_.push_back({r, num_new});
      budget -= num_new;
    }
    waiting_.insert(waiting_.begin(), skipped.begin(), skipped.end());
  }

  StepInfo info;
  for (const auto& s : scheduled_) {
    const Req& r = *s.req;
    if (r.num_output > 0 && s.num_new == 1 && r.num_computed + 1 == r.tokens.size()) {
      ++info.shape.decode_seqs;
    } else {
      info.shape.prefill_tokens += s.num_new;
    }
    info.shape.context_tokens += r.num_computed + s.num_new;
    info.num_tokens += s.num_new;
  }
  info.num_scheduled = static_cast<uint32_t>(scheduled_.size());
  info.duration = info.num_scheduled > 0 ? profile_.step_time(info.shape) : Nanos{0};
  return info;
}

void Engine::end_step(std::vector<TokenOutput>& out) {
  const Nanos now = clock_.now();
  const auto& filler = config_.output_tokens;
  std::vector<std::pair<Req*, size_t>> finished;  // request, index of its output
  for (const auto& s : scheduled_) {
    Req& r = *s.req;
    r.num_computed += s.num_new;
    if (r.num_computed < r.tokens.size()) continue;  // a prefill chunk: no token yet
    const uint32_t token = filler[r.num_output % filler.size()];
    r.tokens.push_back(token);
    ++r.num_output;
    ++counters_.generation_tokens;
    TokenOutput o;
    o.handle = r.handle;
    o.token = token;
    o.num_output_tokens = r.num_output;
    o.prompt_tokens = r.num_prompt;
    o.cached_tokens = r.cached_tokens;
    o.time = now;
    if (r.num_output == 1) {
      r.times.first_token = now;
      counters_.prompt_tokens += r.num_prompt;
    } else {
      o.previous_token_time = r.last_token;
    }
    o.times = r.times;
    r.last_token = now;
    if (r.num_output >= r.target_output) finished.emplace_back(&r, out.size());
    out.push_back(std::move(o));
  }
  for (auto [r, idx] : finished) {
    running_.erase(std::find(running_.begin(), running_.end(), r));
    finish(*r, r->num_output >= r->max_tokens ? FinishReason::kLength : FinishReason::kStop, out[idx]);
  }
  scheduled_.clear();
  flush_events();
}

void Engine::flush_events() {
  if (events_.empty()) return;
  if (sink_ != nullptr) {
    kvevents::EventBatch batch;
    batch.ts = to_seconds(clock_.wall_now());
    batch.events = std::move(events_);
    batch.data_parallel_rank = 0;
    sink_->publish(std::move(batch));
  }
  events_.clear();
}

EngineSnapshot Engine::snapshot() const {
  EngineSnapshot s;
  s.running = static_cast<uint32_t>(running_.size());
  s.waiting = static_cast<uint32_t>(waiting_.size() + remote_.size());
  s.kv_cache_usage = pool_.usage();
  s.counters = counters_;
  auto add = [](std::vector<std::string>& v, const Req* r) {
    if (r->spec.lora.empty()) return;
    if (std::find(v.begin(), v.end(), r->spec.lora) == v.end()) v.push_back(r->spec.lora);
  };
  for (const Req* r : running_) add(s.running_loras, r);
  for (const Req* r : waiting_) add(s.waiting_loras, r);
  return s;
}

const std::vector<uint32_t>* Engine::blocks_of(RequestHandle handle) const {
  auto it = requests_.find(handle);
  return it == requests_.end() ? nullptr : &it->second->blocks;
}

uint32_t Engine::num_computed(RequestHandle handle) const {
  auto it = requests_.find(handle);
  return it == requests_.end() ? 0 : it->second->num_computed;
}

}  // namespace llmd::sim
