#include "sim/server/sim_command.h"

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/host_port.h"
#include "common/random.h"
#include "common/signals.h"
#include "config/config.h"
#include "http/server.h"
#include "json/json.h"
#include "kvevents/wire.h"
#include "log/log.h"
#include "sim/server/kv_publisher.h"
#include "sim/server/replica.h"

namespace llmd::sim {

namespace {

struct SimOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 8000;
  int replicas = 1;
  std::string model;
  std::string profile = "instant";
  std::string tokenizer;
  uint32_t max_num_batched_tokens = 8192;
  uint32_t max_num_seqs = 256;
  uint32_t block_size = 16;
  uint32_t num_gpu_blocks = 0;
  uint32_t max_model_len = 0;
  uint32_t max_waiting = 10'000;
  std::string hash_seed;
  bool hash_seed_set = false;
  uint64_t seed = 0;
  std::string read_timeout = "30s";
  std::string idle_timeout = "60s";
  std::string drain_timeout = "10s";
  http::ServerOptions http;  // the timeouts above, parsed by resolve_options()
  // KV events
  bool kv_events = false;
  std::string kv_events_config;
  std::string kv_endpoint = "tcp://*:5557";
  std::string kv_replay_endpoint;
  size_t kv_buffer_steps = 10'000;
  int kv_hwm = 100'000;
  int kv_queue = 100'000;
  std::string kv_topic;
  bool kv_legacy = false;
  bool kv_replay_legacy = false;
  // LoRA
  bool enable_lora = false;
  std::vector<std::string> lora_modules;
  uint32_t max_loras = 1;
  // P/D, failures, misc
  std::string advertise_host;
  double kv_transfer_timeout_s = 480;
  double failure_rate = 0;
  std::vector<std::string> failure_types;
  double startup_delay_s = 0;
};

constexpr std::pair<const char*, FailureType> kFailureNames[] = {
    {"rate_limit", FailureType::kRateLimit},           {"invalid_api_key", FailureType::kInvalidApiKey},
    {"context_length", FailureType::kContextLength},   {"server_error", FailureType::kServerError},
    {"invalid_request", FailureType::kInvalidRequest}, {"model_not_found", FailureType::kModelNotFound}};

// vLLM's --kv-events-config JSON (KVEventsConfig, vllm/config/kv_events.py).
Result<void> apply_kv_events_config(const std::string& text, SimOptions& o) {
  auto doc = json::parse(text);
  if (!doc) return make_error(ErrorCode::kConfig, "--kv-events-config: " + doc.error().message);
  json::Extractor ex;
  json::ObjectReader c = ex.root(*doc);
  if (auto v = c.optional_bool("enable_kv_cache_events")) o.kv_events = *v;
  if (auto v = c.optional_string("publisher"); v && *v != "zmq" && *v != "null") {
    c.fail("publisher", "expected \"zmq\" or \"null\"");
  } else if (v && *v == "null") {
    o.kv_events = false;
  }
  if (auto v = c.optional_string("endpoint")) o.kv_endpoint = std::string(*v);
  if (auto v = c.optional_string("replay_endpoint")) o.kv_replay_endpoint = std::string(*v);
  if (auto v = c.optional_int("buffer_steps"))
    o.kv_buffer_steps = static_cast<size_t>(std::max<int64_t>(*v, 0));
  if (auto v = c.optional_int("hwm")) o.kv_hwm = static_cast<int>(*v);
  if (auto v = c.optional_int("max_queue_size")) o.kv_queue = static_cast<int>(*v);
  if (auto v = c.optional_string("topic")) o.kv_topic = std::string(*v);
  if (!ex.ok()) return make_error(ErrorCode::kConfig, "--kv-events-config: " + ex.error().message);
  return {};
}

std::string expand_topic(const std::string& pattern, const std::string& pod, const std::string& model) {
  if (pattern.empty()) return kvevents::make_topic(pod, model);
  std::string out = pattern;
  auto replace = [&out](std::string_view key, const std::string& value) {
    for (size_t p = out.find(key); p != std::string::npos; p = out.find(key, p + value.size())) {
      out.replace(p, key.size(), value);
    }
  };
  replace("{pod}", pod);
  replace("{model}", model);
  return out;
}

// Checks the options and fills in what defaults to the profile or the environment. False after
// logging why the options are unusable.
bool resolve_options(SimOptions& o, const Profile& profile) {
  if (!o.kv_events_config.empty()) {
    if (auto r = apply_kv_events_config(o.kv_events_config, o); !r) {
      log::error(r.error().message);
      return false;
    }
  }
  if (o.replicas < 1 || o.port == 0 || static_cast<int>(o.port) + o.replicas - 1 > 65535) {
    log::error("llmd sim: --replicas must be >= 1 and --port + replicas - 1 <= 65535");
    return false;
  }
  for (auto [flag, text, out] : {std::tuple{"--read-timeout", &o.read_timeout, &o.http.read_timeout},
                                 std::tuple{"--idle-timeout", &o.idle_timeout, &o.http.idle_timeout},
                                 std::tuple{"--drain-timeout", &o.drain_timeout, &o.http.drain_timeout}}) {
    auto d = config::parse_duration(*text);
    if (!d) {
      log::error(fmt::format("llmd sim: {}: {}", flag, d.error().message));
      return false;
    }
    *out = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  }
  if (o.model.empty()) o.model = profile.model;
  if (o.advertise_host.empty()) {
    const char* pod_ip = std::getenv("POD_IP");
    o.advertise_host = pod_ip != nullptr && *pod_ip != '\0' ? pod_ip : "127.0.0.1";
  }
  if (!o.hash_seed_set) {
    if (const char* env = std::getenv("PYTHONHASHSEED"); env != nullptr) {
      o.hash_seed = env;
      o.hash_seed_set = true;
    }
  }
  if (!o.hash_seed_set) {
    log::warn("no --hash-seed and no PYTHONHASHSEED: block hashes are random per process, as on vLLM");
  }
  return true;
}

// --lora-modules name=path ...
std::optional<std::vector<std::pair<std::string, std::string>>> lora_modules(const SimOptions& o) {
  std::vector<std::pair<std::string, std::string>> loras;
  for (const auto& m : o.lora_modules) {
    const size_t eq = m.find('=');
    if (eq == std::string::npos || eq == 0) {
      log::error("llmd sim: --lora-modules expects name=path", log::kv("got", m));
      return std::nullopt;
    }
    loras.emplace_back(m.substr(0, eq), m.substr(eq + 1));
  }
  return loras;
}

// --failure-types; every type when a failure rate is set without them.
std::optional<std::vector<FailureType>> failure_types(const SimOptions& o) {
  std::vector<FailureType> types;
  for (const auto& name : o.failure_types) {
    bool found = false;
    for (const auto& [n, t] : kFailureNames) {
      if (name == n) {
        types.push_back(t);
        found = true;
      }
    }
    if (!found) {
      log::error("llmd sim: unknown --failure-types value", log::kv("got", name));
      return std::nullopt;
    }
  }
  if (o.failure_rate > 0 && types.empty()) {
    for (const auto& [n, t] : kFailureNames) types.push_back(t);
  }
  return types;
}

// The pseudo-tokenizer, or --tokenizer's; null after logging a load failure.
std::shared_ptr<const Codec> make_codec(const SimOptions& o) {
  if (o.tokenizer.empty()) return std::make_shared<Codec>();
  auto tok = tokenizer::Tokenizer::load(o.tokenizer);
  if (!tok) {
    log::error("llmd sim: --tokenizer", log::kv("error", tok.error().message));
    return nullptr;
  }
  return std::make_shared<Codec>(*tok);
}

// Replica i publishes on the endpoints offset by i, under its own pod's topic.
std::optional<std::vector<KvPublisherEndpoint>> kv_endpoints(const SimOptions& o) {
  std::vector<KvPublisherEndpoint> eps;
  for (int i = 0; i < o.replicas; ++i) {
    KvPublisherEndpoint ep;
    auto pub = kvevents::offset_endpoint(o.kv_endpoint, i);
    if (!pub) {
      log::error("llmd sim: cannot offset --kv-events-endpoint", log::kv("endpoint", o.kv_endpoint));
      return std::nullopt;
    }
    ep.endpoint = *pub;
    if (!o.kv_replay_endpoint.empty()) {
      auto rep = kvevents::offset_endpoint(o.kv_replay_endpoint, i);
      if (!rep) {
        log::error("llmd sim: cannot offset the replay endpoint", log::kv("endpoint", o.kv_replay_endpoint));
        return std::nullopt;
      }
      ep.replay_endpoint = *rep;
    }
    const std::string pod = host_port(o.advertise_host, static_cast<uint16_t>(o.port + i));
    ep.topic = expand_topic(o.kv_topic, pod, o.model);
    eps.push_back(std::move(ep));
  }
  return eps;
}

// The started KV event publisher, null when events are off; nullopt after logging a failure.
std::optional<std::unique_ptr<KvPublisher>> start_publisher(const SimOptions& o) {
  if (!o.kv_events) return std::unique_ptr<KvPublisher>();
  auto eps = kv_endpoints(o);
  if (!eps) return std::nullopt;
  KvPublisherOptions po;
  po.encoding = o.kv_legacy ? kvevents::Encoding::kArray : kvevents::Encoding::kMap;
  po.replay_legacy = o.kv_replay_legacy;
  po.hwm = o.kv_hwm;
  po.buffer_steps = o.kv_buffer_steps;
  po.queue_size = o.kv_queue;
  auto publisher = std::make_unique<KvPublisher>(std::move(*eps), po);
  if (auto r = publisher->start(); !r) {
    log::error("llmd sim: KV event publisher", log::kv("error", r.error().message));
    return std::nullopt;
  }
  return publisher;
}

// What every replica shares; replica_config() adds what is its own.
struct Shared {
  Profile profile;
  std::vector<std::pair<std::string, std::string>> loras;
  std::vector<FailureType> failure_types;
};

ReplicaConfig replica_config(const SimOptions& o, const Shared& shared, int i, Rng& process_rng) {
  ReplicaConfig rc;
  rc.index = i;
  rc.host = o.host;
  rc.port = static_cast<uint16_t>(o.port + i);
  rc.advertise_host = o.advertise_host;
  rc.model = o.model;
  rc.profile = shared.profile;
  // Unique per process, as vLLM's engine ids are (a UUID there).
  rc.engine.engine_id = fmt::format("llmd-sim-{}-{:016x}", rc.port, process_rng());
  rc.engine.max_num_batched_tokens = o.max_num_batched_tokens;
  rc.engine.max_num_seqs = o.max_num_seqs;
  rc.engine.block_size = o.block_size;
  rc.engine.num_gpu_blocks = o.num_gpu_blocks;
  rc.engine.max_model_len = o.max_model_len;
  rc.engine.max_loras = o.max_loras;
  rc.engine.max_waiting = o.max_waiting;
  if (o.hash_seed_set) rc.engine.hash_seed = o.hash_seed;
  rc.engine.kv_transfer_timeout =
      std::chrono::duration_cast<Nanos>(std::chrono::duration<double>(o.kv_transfer_timeout_s));
  rc.engine.seed = o.seed + static_cast<uint64_t>(i);
  rc.engine.kv_events = o.kv_events;
  rc.lora_enabled = o.enable_lora || !shared.loras.empty();
  rc.lora_modules = shared.loras;
  rc.failure_rate = o.failure_rate;
  rc.failure_types = shared.failure_types;
  rc.startup_delay = std::chrono::duration_cast<Nanos>(std::chrono::duration<double>(o.startup_delay_s));
  rc.version = LLMD_SIM_VERSION;
  rc.seed = o.seed + static_cast<uint64_t>(i);
  rc.request_id_seed = process_rng();
  rc.http = o.http;
  return rc;
}

// Blocks until SIGINT or SIGTERM.
void wait_for_stop_signal() {
  boost::asio::io_context sig_ioc;
  boost::asio::signal_set signals(sig_ioc, SIGINT, SIGTERM);
  unblock_stop_signals();  // the handler is in place: a signal pending since start-up arrives now
  signals.async_wait([](const boost::system::error_code&, int) {});
  sig_ioc.run();
}

void stop_all(std::vector<std::unique_ptr<Replica>>& replicas) {
  for (auto& r : replicas) r->drain();
  for (auto& r : replicas) r->wait();
}

int run(SimOptions& o, const Clock& clock) {
  block_stop_signals();  // before any thread starts; unblocked once the handler is installed
  auto profile = load_profile(o.profile);
  if (!profile) {
    log::error("llmd sim: bad --profile", log::kv("error", profile.error().message));
    return 2;
  }
  if (!resolve_options(o, *profile)) return 2;
  auto loras = lora_modules(o);
  if (!loras) return 2;
  auto failures = failure_types(o);
  if (!failures) return 2;
  const Shared shared{*profile, std::move(*loras), std::move(*failures)};
  auto codec = make_codec(o);
  if (!codec) return 2;
  auto started = start_publisher(o);
  if (!started) return 2;
  std::unique_ptr<KvPublisher> publisher = std::move(*started);

  // Engine ids and request ids must differ between processes, so this generator is seeded from the
  // time and the process id rather than from --seed.
  Rng process_rng(static_cast<uint64_t>(clock.wall_now().count()) ^ static_cast<uint64_t>(::getpid()));
  ReplicaDirectory directory;
  std::vector<std::unique_ptr<Replica>> replicas;
  for (int i = 0; i < o.replicas; ++i) {
    replicas.push_back(std::make_unique<Replica>(replica_config(o, shared, i, process_rng), clock, codec,
                                                 publisher.get(), &directory));
    directory.add(replicas.back().get());
  }
  for (auto& r : replicas) {
    if (auto s = r->start(); !s) {
      log::error("llmd sim: cannot start replica", log::kv("port", r->port()),
                 log::kv("error", s.error().message));
      stop_all(replicas);
      return 2;
    }
  }
  log::info("llmd sim ready", log::kv("replicas", o.replicas), log::kv("port", o.port),
            log::kv("profile", profile->name), log::kv("model", o.model), log::kv("kv_events", o.kv_events));
  wait_for_stop_signal();
  log::info("llmd sim draining");
  stop_all(replicas);
  if (publisher) publisher->stop();
  return 0;
}

}  // namespace

cli::RunFn setup_sim_command(CLI::App& app) {
  auto o = std::make_shared<SimOptions>();
  app.add_option("--host", o->host, "Address to listen on")->capture_default_str();
  app.add_option("--port", o->port, "HTTP port of replica 0; replica i listens on port + i")
      ->capture_default_str();
  app.add_option("--replicas", o->replicas, "Independent engines in this process")->capture_default_str();
  app.add_option("--model,--served-model-name", o->model, "Served model name (default: the profile's)");
  app.add_option("--profile", o->profile, "Built-in profile name or a profile YAML path")
      ->capture_default_str();
  app.add_option("--tokenizer", o->tokenizer,
                 "A Hugging Face tokenizer.json (default: the pseudo-tokenizer)");
  app.add_option("--max-num-batched-tokens", o->max_num_batched_tokens, "Token budget per step")
      ->capture_default_str();
  app.add_option("--max-num-seqs", o->max_num_seqs, "Running requests per step")->capture_default_str();
  app.add_option("--block-size", o->block_size, "KV block size in tokens")->capture_default_str();
  app.add_option("--num-gpu-blocks", o->num_gpu_blocks, "KV blocks per replica (default: from the profile)");
  app.add_option("--max-model-len", o->max_model_len, "Context limit (default: the profile's)");
  app.add_option("--max-waiting-queue-length", o->max_waiting, "Waiting requests before 429")
      ->capture_default_str();
  app.add_option_function<std::string>(
      "--hash-seed",
      [o](const std::string& s) {
        o->hash_seed = s;
        o->hash_seed_set = true;
      },
      "PYTHONHASHSEED for block hashes (default: $PYTHONHASHSEED, else random per process)");
  app.add_option("--seed", o->seed, "Seed for sampled output lengths and failures")->capture_default_str();
  app.add_option("--read-timeout", o->read_timeout, "A request (head and body) must arrive within this")
      ->capture_default_str();
  app.add_option("--idle-timeout", o->idle_timeout,
                 "A kept-alive connection with no request is closed after this")
      ->capture_default_str();
  app.add_option("--drain-timeout", o->drain_timeout,
                 "On SIGTERM, in-flight requests get this long to finish")
      ->capture_default_str();
  app.add_flag("--kv-events", o->kv_events, "Publish KV events over ZMQ");
  app.add_option("--kv-events-config", o->kv_events_config, "vLLM's --kv-events-config JSON");
  app.add_option("--kv-events-endpoint", o->kv_endpoint, "PUB endpoint of replica 0 (port + i for replica i)")
      ->capture_default_str();
  app.add_option("--kv-events-replay-endpoint", o->kv_replay_endpoint, "ROUTER replay endpoint of replica 0");
  app.add_option("--kv-events-buffer-steps", o->kv_buffer_steps, "Batches kept per replica for replay")
      ->capture_default_str();
  app.add_option("--kv-events-hwm", o->kv_hwm, "PUB send high-water mark")->capture_default_str();
  app.add_option("--kv-events-topic", o->kv_topic,
                 "Topic; {pod} and {model} are expanded (default: kv@<advertise-host>:<port>@<model>)");
  app.add_flag("--kv-events-legacy-format", o->kv_legacy, "Positional-array events (vLLM < 0.26)");
  app.add_flag("--kv-events-replay-legacy", o->kv_replay_legacy, "Replay replies without the topic frame");
  app.add_flag("--enable-lora", o->enable_lora, "Enable LoRA (implied by --lora-modules)");
  app.add_option("--lora-modules", o->lora_modules, "LoRA adapters as name=path")->expected(1, -1);
  app.add_option("--max-loras", o->max_loras, "Distinct adapters per batch")->capture_default_str();
  app.add_option("--advertise-host", o->advertise_host,
                 "This host's address in topics and P/D replies "
                 "(default: $POD_IP, else 127.0.0.1)");
  app.add_option("--kv-transfer-timeout", o->kv_transfer_timeout_s, "Seconds a P/D prefill holds its blocks")
      ->capture_default_str();
  app.add_option("--failure-injection-rate,--failure-rate", o->failure_rate,
                 "Percent of requests failed on purpose")
      ->capture_default_str();
  app.add_option(
      "--failure-types", o->failure_types,
      "rate_limit, invalid_api_key, context_length, server_error, invalid_request, model_not_found");
  app.add_option("--startup-delay", o->startup_delay_s, "Seconds /health answers 503 after start")
      ->capture_default_str();
  return [o] { return run(*o, SystemClock::instance()); };
}

}  // namespace llmd::sim
