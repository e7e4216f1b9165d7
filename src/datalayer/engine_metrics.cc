#include "datalayer/engine_metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace llmd::datalayer {

namespace {

struct Names {
  std::string_view waiting;
  std::string_view running;
  std::string_view kv_usage;
  std::string_view kv_usage_legacy;  // vLLM before v0.10; empty when none
  std::string_view cache_config;
  std::string_view block_size_label;
  std::string_view num_blocks_label;
  std::string_view lora;  // empty when the engine has none
};

constexpr Names kVllm{"vllm:num_requests_waiting",
                      "vllm:num_requests_running",
                      "vllm:kv_cache_usage_perc",
                      "vllm:gpu_cache_usage_perc",
                      "vllm:cache_config_info",
                      "block_size",
                      "num_gpu_blocks",
                      "vllm:lora_requests_info"};
constexpr Names kSglang{"sglang:num_queue_reqs",
                        "sglang:num_running_reqs",
                        "sglang:token_usage",
                        "",
                        "sglang:cache_config_info",
                        "page_size",
                        "num_pages",
                        ""};

const Names& names_of(EngineType e) { return e == EngineType::kSglang ? kSglang : kVllm; }

metrics::ScrapeFilter make_filter(const Names& n) {
  metrics::ScrapeFilter f;
  for (std::string_view name :
       {n.waiting, n.running, n.kv_usage, n.kv_usage_legacy, n.cache_config, n.lora}) {
    if (!name.empty()) f.add(name);
  }
  return f;
}

std::string make_query(const Names& n) {
  std::string q;
  for (std::string_view name :
       {n.waiting, n.running, n.kv_usage, n.kv_usage_legacy, n.cache_config, n.lora}) {
    if (name.empty()) continue;
    if (!q.empty()) q.push_back('&');
    q.append("name%5B%5D=");
    for (char c : name) {
      if (c == ':') {
        q.append("%3A");
      } else {
        q.push_back(c);  // the rest of a metric name ([a-zA-Z0-9_]) needs no escaping
      }
    }
  }
  return q;
}

int64_t to_count(double v) {
  if (!std::isfinite(v) || v < 0) return 0;
  return static_cast<int64_t>(std::llround(v));
}

int64_t label_int(const metrics::Page& page, const metrics::Sample& s, std::string_view label) {
  auto v = page.label(s, label);
  if (!v) return 0;
  int64_t out = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  return ec == std::errc() && p == v->data() + v->size() && out >= 0 ? out : 0;
}

void split_list(std::string_view text, std::vector<std::string>& out) {
  out.clear();
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
}

}  // namespace

std::string ExtractReport::missing() const {
  std::string out;
  auto add = [&](bool has, std::string_view what) {
    if (has) return;
    if (!out.empty()) out.push_back(',');
    out.append(what);
  };
  add(has_waiting, "waiting_queue_size");
  add(has_running, "running_requests_size");
  add(has_kv_usage, "kv_cache_usage");
  return out;
}

const metrics::ScrapeFilter& scrape_filter(EngineType engine) {
  static const metrics::ScrapeFilter vllm = make_filter(kVllm);
  static const metrics::ScrapeFilter sglang = make_filter(kSglang);
  return engine == EngineType::kSglang ? sglang : vllm;
}

const std::string& scrape_query(EngineType engine) {
  static const std::string vllm = make_query(kVllm);
  static const std::string sglang = make_query(kSglang);
  return engine == EngineType::kSglang ? sglang : vllm;
}

sched::EndpointMetrics extract_metrics(EngineType engine, const metrics::Page& page, Nanos now,
                                       ExtractReport* report) {
  const Names& n = names_of(engine);
  sched::EndpointMetrics m;
  ExtractReport r;
  double waiting = 0;
  double running = 0;
  double kv = 0;
  double kv_legacy = 0;
  bool has_legacy = false;
  double lora_newest = -INFINITY;
  for (const metrics::Sample& s : page.samples()) {
    if (s.name == n.waiting) {
      r.has_waiting = true;
      waiting += std::isfinite(s.value) ? s.value : 0;
    } else if (s.name == n.running) {
      r.has_running = true;
      running += std::isfinite(s.value) ? s.value : 0;
    } else if (s.name == n.kv_usage) {
      r.has_kv_usage = true;
      if (std::isfinite(s.value)) kv = std::max(kv, s.value);
    } else if (!n.kv_usage_legacy.empty() && s.name == n.kv_usage_legacy) {
      has_legacy = true;
      if (std::isfinite(s.value)) kv_legacy = std::max(kv_legacy, s.value);
    } else if (s.name == n.cache_config) {
      r.has_cache_config = true;
      m.cache_block_size = label_int(page, s, n.block_size_label);
      m.cache_num_gpu_blocks = label_int(page, s, n.num_blocks_label);
    } else if (!n.lora.empty() && s.name == n.lora) {
      // The value is a timestamp; the newest series describes the current adapters.
      if (!(s.value > lora_newest)) continue;
      lora_newest = s.value;
      r.has_lora = true;
      split_list(page.label(s, "running_lora_adapters").value_or(""), m.active_models);
      split_list(page.label(s, "waiting_lora_adapters").value_or(""), m.waiting_models);
      m.max_active_models = label_int(page, s, "max_lora");
    }
  }
  if (!r.has_kv_usage && has_legacy) {
    r.has_kv_usage = true;
    kv = kv_legacy;
  }
  m.waiting_queue_size = to_count(waiting);
  m.running_requests_size = to_count(running);
  m.kv_cache_usage = std::clamp(kv, 0.0, 1.0);
  m.update_time = now;
  if (report != nullptr) *report = r;
  return m;
}

bool same_values(const sched::EndpointMetrics& a, const sched::EndpointMetrics& b) {
  return a.waiting_queue_size == b.waiting_queue_size && a.running_requests_size == b.running_requests_size &&
         a.kv_cache_usage == b.kv_cache_usage && a.active_models == b.active_models &&
         a.waiting_models == b.waiting_models && a.max_active_models == b.max_active_models &&
         a.cache_block_size == b.cache_block_size && a.cache_num_gpu_blocks == b.cache_num_gpu_blocks;
}

}  // namespace llmd::datalayer
