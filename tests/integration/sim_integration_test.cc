// Black-box tests of `llmd sim`: its vLLM HTTP API (streaming and not, every error path, the
// auxiliary endpoints, metrics, LoRA, P/D) and its KV events over ZMQ (BlockStored with vLLM's
// sha256_cbor hashes, BlockRemoved after eviction, replay).

#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <poll.h>
#include <zmq.h>

#include <gtest/gtest.h>

#include "common/testing/eventually.h"
#include "kvevents/events.h"
#include "kvevents/wire.h"
#include "support/process.h"

namespace llmd::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;
using namespace std::chrono_literals;

struct Reply {
  int status = 0;
  std::string body;
  std::string content_type;
};

Reply http(uint16_t port, bhttp::verb verb, const std::string& target, const std::string& body = {},
           std::vector<std::pair<std::string, std::string>> headers = {}) {
  asio::io_context ioc;
  asio::ip::tcp::socket sock(ioc);
  sock.connect({asio::ip::make_address("127.0.0.1"), port});
  bhttp::request<bhttp::string_body> req{verb, target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  bhttp::write(sock, req);
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  bhttp::read(sock, buf, parser);
  auto& res = parser.get();
  return Reply{static_cast<int>(res.result_int()), res.body(), std::string(res[bhttp::field::content_type])};
}

Reply post(uint16_t port, const std::string& target, const std::string& body,
           std::vector<std::pair<std::string, std::string>> headers = {}) {
  return http(port, bhttp::verb::post, target, body, std::move(headers));
}

using llmd::testing::eventually;

// A completion request sent on a connection of its own. Its reply is read only when asked for;
// destruction hangs up, which makes the simulator abort the request.
class HeldRequest {
 public:
  HeldRequest(uint16_t port, const std::string& body) : sock_(ioc_) {
    sock_.connect({asio::ip::make_address("127.0.0.1"), port});
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/v1/completions", 11};
    req.set(bhttp::field::host, "127.0.0.1");
    req.set(bhttp::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    bhttp::write(sock_, req);
  }
  // The reply, or nullopt when none has begun within `guard` (a hang guard, not a timing assertion).
  std::optional<Reply> reply(std::chrono::milliseconds guard) {
    pollfd p{sock_.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(guard.count())) != 1) return std::nullopt;
    beast::flat_buffer buf;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(sock_, buf, res);
    return Reply{static_cast<int>(res.result_int()), res.body(),
                 std::string(res[bhttp::field::content_type])};
  }

 private:
  asio::io_context ioc_;
  asio::ip::tcp::socket sock_;
};

// The JSON payloads of an SSE body, in order ("[DONE]" included as a string).
std::vector<std::string> sse_payloads(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    const size_t end = body.find("\n\n", pos);
    out.push_back(body.substr(pos + 6, end - pos - 6));
    pos = end;
  }
  return out;
}

class Sim {
 public:
  explicit Sim(std::vector<std::string> extra, int replicas = 1) : Sim([extra] { return extra; }, replicas) {}
  // `extra()` gives the flags after the common ones. Should a port be taken before the simulator
  // binds it, the simulator is started again, with `extra()` called again: it may pick ports of its own.
  Sim(const std::function<std::vector<std::string>()>& extra, int replicas)
      : Sim(spawn_llmd_listening(replicas, [&](uint16_t port) {
          std::vector<std::string> args = {
              "sim",      "--port",    std::to_string(port), "--replicas", std::to_string(replicas),
              "--host",   "127.0.0.1", "--hash-seed",        "0",          "--model",
              "sim-model"};
          const std::vector<std::string> more = extra();
          args.insert(args.end(), more.begin(), more.end());
          return args;
        })) {}

  uint16_t port = 0;
  Process proc;
  bool ready = false;

 private:
  explicit Sim(Listening l) : port(l.port), proc(std::move(l.process)), ready(l.ready) {}
};

double metric(const std::string& text, const std::string& series_prefix) {
  const size_t p = text.find("\n" + series_prefix);
  if (p == std::string::npos) return -1;
  const size_t sp = text.find(' ', p + 1 + series_prefix.size());
  return std::stod(text.substr(sp + 1, text.find('\n', sp) - sp - 1));
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

TEST(SimHttpTest, CompletionNonStreaming) {
  Sim sim({"--profile", "instant"});
  ASSERT_TRUE(sim.ready) << sim.proc.output();
  auto r =
      post(sim.port, "/v1/completions",
           R"({"model":"sim-model","prompt":"Hello there, simulator.","max_tokens":12,"ignore_eos":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  const auto v = bj::parse(r.body);
  EXPECT_EQ(v.at("object"), "text_completion");
  EXPECT_EQ(v.at("model"), "sim-model");
  EXPECT_EQ(std::string(v.at("id").as_string()).substr(0, 5), "cmpl-");
  EXPECT_EQ(v.at("choices").at(0).at("finish_reason"), "length");
  EXPECT_EQ(v.at("usage").at("completion_tokens"), 12);
  // The pseudo-tokenizer: "Hell" "o" " ther" "e" "," " simu" "lato" "r" "." = 9 tokens.
  EXPECT_EQ(v.at("usage").at("prompt_tokens"), 9);
  EXPECT_EQ(std::string(v.at("choices").at(0).at("text").as_string()).substr(0, 13), "The simulated");
}

TEST(SimHttpTest, ChatStreamingShape) {
  Sim sim({"--profile", "instant"});
  ASSERT_TRUE(sim.ready) << sim.proc.output();
  auto r = post(sim.port, "/v1/chat/completions",
                R"({"model":"sim-model","messages":[{"role":"user","content":"Tell me a story."}],
                    "max_tokens":20,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "text/event-stream");
  const auto payloads = sse_payloads(r.body);
  ASSERT_GE(payloads.size(), 4u);
  EXPECT_EQ(payloads.back(), "[DONE]");
  const auto role = bj::parse(payloads[0]);
  EXPECT_EQ(role.at("object"), "chat.completion.chunk");
  EXPECT_EQ(role.at("choices").at(0).at("delta").at("role"), "assistant");
  std::string text;
  int finish_chunks = 0;
  for (size_t i = 1; i + 2 < payloads.size(); ++i) {
    const auto c = bj::parse(payloads[i]);
    text += c.at("choices").at(0).at("delta").at("content").as_string();
    if (!c.at("choices").at(0).at("finish_reason").is_null()) ++finish_chunks;
  }
  const auto last = bj::parse(payloads[payloads.size() - 3]);
  EXPECT_EQ(last.at("choices").at(0).at("finish_reason"), "length");
  EXPECT_EQ(finish_chunks, 1);
  const auto usage = bj::parse(payloads[payloads.size() - 2]);
  EXPECT_TRUE(usage.at("choices").as_array().empty());
  EXPECT_EQ(usage.at("usage").at("completion_tokens"), 20);
  EXPECT_EQ(text.substr(0, 13), "The simulated");
}

TEST(SimHttpTest, CompletionStreamingWithoutUsage) {
  Sim sim({"--profile", "instant"});
  ASSERT_TRUE(sim.ready) << sim.proc.output();
  auto r = post(sim.port, "/v1/completions",
                R"({"model":"sim-model","prompt":[1,2,3,4],"max_tokens":5,"ignore_eos":true,"stream":true})");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto payloads = sse_payloads(r.body);
  EXPECT_EQ(payloads.back(), "[DONE]");
  const auto first = bj::parse(payloads[0]);
  EXPECT_EQ(first.at("object"), "text_completion");
  for (size_t i = 0; i + 1 < payloads.size(); ++i)
    EXPECT_FALSE(bj::parse(payloads[i]).as_object().contains("usage"));
  EXPECT_EQ(bj::parse(payloads[payloads.size() - 2]).at("choices").at(0).at("finish_reason"), "length");
}

TEST(SimHttpTest, PrefixCacheHitsAreReportedAsCachedTokens) {
  Sim sim({"--profile", "llama3-8b-h100"});
  ASSERT_TRUE(sim.ready) << sim.proc.output();
  std::string prompt;
  for (int i = 0; i < 40; ++i) prompt += "The quick brown fox jumps over the lazy dog. ";
  const std::string body = R"({"model":"sim-model","prompt":")" + prompt + R"(","max_tokens":1})";
  auto first = bj::parse(post(sim.port, "/v1/completions", body).body);
  auto second = bj::parse(post(sim.port, "/v1/completions", body).body);
  const int64_t prompt_tokens = first.at("usage").at("prompt_tokens").as_int64();
  EXPECT_EQ(first.at("usage").at("prompt_tokens_details").at("cached_tokens"), 0);
  // Every full block but the one holding the last token is a hit.
  EXPECT_EQ(second.at("usage").at("prompt_tokens_details").at("cached_tokens").as_int64(),
            (prompt_tokens - 1) / 16 * 16);
  const std::string m = http(sim.port, bhttp::verb::get, "/metrics").body;
  EXPECT_EQ(metric(m, "vllm:prefix_cache_queries_total{"), 2.0 * static_cast<double>(prompt_tokens));
  EXPECT_EQ(metric(m, "vllm:prefix_cache_hits_total{"), static_cast<double>((prompt_tokens - 1) / 16 * 16));

  // name[] limits the page to the named samples, as prometheus_client does for vLLM.
  const std::string only =
      http(sim.port, bhttp::verb::get,
           "/metrics?name[]=vllm:prefix_cache_hits_total&name%5B%5D=vllm%3Anum_requests_waiting")
          .body;
  EXPECT_EQ(metric(only, "vllm:prefix_cache_hits_total{"),
            static_cast<double>((prompt_tokens - 1) / 16 * 16));
  EXPECT_EQ(metric(only, "vllm:num_requests_waiting{"), 0.0);
  EXPECT_EQ(only.find("vllm:prefix_cache_queries_total"), std::string::npos) << only;
  EXPECT_EQ(only.find("_bucket"), std::string::npos) << only;
  EXPECT_LT(only.size(), m.size() / 4);
}

TEST(SimHttpTest, ErrorPaths) {
  Sim sim({"--profile", "instant", "--max-model-len", "64"});
  ASSERT_TRUE(sim.ready) << sim.proc.output();
  struct Case {
    std::string target, body;
    int status;
    std::string message_part;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  const std::vector<Case> cases = {
      {"/v1/completions", R"({"model":)", 400, "invalid JSON", {}},
      {"/v1/completions", R"({"model":"sim-model","prompt":"x","max_tokens":"ten"})", 400, "max_tokens", {}},
      {"/v1/chat/completions", R"({"model":"sim-model","messages":"hi"})", 400, "messages", {}},
      {"/v1/completions", R"({"model":"other","prompt":"x"})", 404, "The model `other` does not exist.", {}},
      {"/v1/completions",
       R"({"model":"sim-model","prompt":[1,2,3],"max_tokens":100})",
       400,
       "'max_tokens' or 'max_completion_tokens' is too large: 100. This model's maximum context length is 64 "
       "tokens "
       "and your request has 3 input tokens (100 > 64 - 3).",
       {}},
      {"/v1/completions", R"({"model":"sim-model","prompt":"x","n":3})", 400, "n", {}},
      {"/v1/completions",
       R"({"model":"sim-model","prompt":"x"})",
       429,
       "X-Return-Error",
       {{"X-Return-Error", "429"}}},
      {"/v1/completions",
       R"({"model":"sim-model","prompt":"x"})",
       503,
       "X-Return-Error",
       {{"X-Return-Error", "503"}}},
  };
  for (const auto& c : cases) {
    auto r = post(sim.port, c.target, c.body, c.headers);
    EXPECT_EQ(r.status, c.status) << c.body << " → " << r.body;
    const auto v = bj::parse(r.body);
    EXPECT_EQ(v.at("error").at("code"), c.status) << r.body;
    EXPECT_NE(std::string(v.at("error").at("message").as_string()).find(c.message_part), std::string::npos)
        << r.body;
  }
  std::string long_prompt(300, 'a');
  auto r = post(sim.port, "/v1/completions", R"({"model":"sim-model","prompt":")" + long_prompt + R"("})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(
      r.body.find("This model's maximum context length is 64 tokens. However, your request has 75 input "
                  "tokens."),
      std::string::npos)
      << r.body;
  EXPECT_EQ(http(sim.port, bhttp::verb::get, "/no/such/path").status, 404);
  EXPECT_EQ(http(sim.port, bhttp::verb::get, "/v1/completions").status, 405);
}

TEST(SimHttpTest, FailureInjectionRateHundredFailsEveryRequest) {
  Sim sim({"--profile", "instant", "--failure-injection-rate", "100", "--failure-types", "rate_limit"});
  ASSERT_TRUE(sim.ready) << sim.proc.output();
  for (int i = 0; i < 3; ++i) {
    auto r = post(sim.port, "/v1/completions", R"({"model":"sim-model","prompt":"x","max_tokens":1})");
    EXPECT_EQ(r.status, 429) << r.body;
  }
}

TEST(SimHttpTest, WaitingQueueBoundGives429) {
  // One running slot and one waiting slot: with both taken, the next request is refused.
  Sim sim({"--profile", "llama3-8b-h100", "--max-num-seqs", "1", "--max-waiting-queue-length", "1"});
  ASSERT_TRUE(sim.ready) << sim.proc.output();
  auto running_and_waiting = [&] {
    const std::string m = http(sim.port, bhttp::verb::get, "/metrics").body;
    return std::pair{metric(m, "vllm:num_requests_running{engine=\"0\",model_name=\"sim-model\"}"),
                     metric(m, "vllm:num_requests_waiting{engine=\"0\",model_name=\"sim-model\"}")};
  };
  using Gauges = std::pair<double, double>;
  // 100000 tokens at about 12 ms each: these hold their slots until the test hangs up, however slowly
  // the test runs. The metrics say when each has taken its slot, so nothing depends on thread timing.
  const std::string long_body = R"({"model":"sim-model","prompt":"x","max_tokens":100000,"ignore_eos":true})";
  const std::string short_body = R"({"model":"sim-model","prompt":"x","max_tokens":4,"ignore_eos":true})";
  auto first = std::make_unique<HeldRequest>(sim.port, long_body);
  ASSERT_TRUE(eventually([&] { return running_and_waiting() == Gauges{1, 0}; })) << sim.proc.output();
  auto second = std::make_unique<HeldRequest>(sim.port, long_body);
  ASSERT_TRUE(eventually([&] { return running_and_waiting() == Gauges{1, 1}; })) << sim.proc.output();

  // Should it be queued instead, its answer would take until the test hangs up.
  const auto refused = HeldRequest(sim.port, short_body).reply(30s);
  ASSERT_TRUE(refused.has_value()) << "queued, not refused";
  EXPECT_EQ(refused->status, 429) << refused->body;
  EXPECT_NE(refused->body.find("The waiting queue is full."), std::string::npos) << refused->body;
  EXPECT_EQ(running_and_waiting(), (Gauges{1, 1}));  // the refused request took no slot

  // Hanging up aborts both held requests; then there is room again.
  first.reset();
  second.reset();
  ASSERT_TRUE(eventually([&] { return running_and_waiting() == Gauges{0, 0}; })) << sim.proc.output();
  const Reply ok = post(sim.port, "/v1/completions", short_body);
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST(SimHttpTest, StartupDelayHealth) {
  // The delay counts from the replica's start, which comes after `spawned`: an answer that arrived
  // before spawned + delay was decided within the delay. The delay is long enough for that to hold on
  // a loaded machine; should it not, the 503s cannot be expected and are not checked.
  constexpr auto kDelay = 10s;
  const auto spawned = std::chrono::steady_clock::now();
  Sim sim({"--profile", "instant", "--startup-delay", "10"});
  ASSERT_TRUE(sim.ready) << sim.proc.output();
  const int health = http(sim.port, bhttp::verb::get, "/health").status;
  const int completion = post(sim.port, "/v1/completions", R"({"model":"sim-model","prompt":"x"})").status;
  if (std::chrono::steady_clock::now() < spawned + kDelay) {
    EXPECT_EQ(health, 503);
    EXPECT_EQ(completion, 503);
  } else {
    std::cerr << "503 during the startup delay not checked: asking took longer than the delay\n";
  }
  int status = 0;
  ASSERT_TRUE(eventually(
      [&] {
        status = http(sim.port, bhttp::verb::get, "/health").status;
        return status == 200;
      },
      kDelay + 30s))
      << status;
  // And not before the delay: the replica's clock is this one (CLOCK_MONOTONIC) and it started later.
  EXPECT_TRUE(std::chrono::steady_clock::now() - spawned >= kDelay);
  EXPECT_EQ(post(sim.port, "/v1/completions", R"({"model":"sim-model","prompt":"x","max_tokens":2})").status,
            200);
}

TEST(SimHttpTest, AuxiliaryEndpoints) {
  Sim sim({"--profile", "instant", "--lora-modules", "sql-lora=/adapters/sql", "--max-loras", "2"});
  ASSERT_TRUE(sim.ready) << sim.proc.output();
  EXPECT_EQ(http(sim.port, bhttp::verb::get, "/health").status, 200);
  EXPECT_EQ(http(sim.port, bhttp::verb::get, "/ping").status, 200);
  EXPECT_TRUE(bj::parse(http(sim.port, bhttp::verb::get, "/version").body).at("version").is_string());

  auto models = bj::parse(http(sim.port, bhttp::verb::get, "/v1/models").body);
  ASSERT_EQ(models.at("data").as_array().size(), 2u);
  EXPECT_EQ(models.at("data").at(0).at("id"), "sim-model");
  EXPECT_TRUE(models.at("data").at(0).at("parent").is_null());
  EXPECT_EQ(models.at("data").at(1).at("id"), "sql-lora");
  EXPECT_EQ(models.at("data").at(1).at("parent"), "sim-model");
  EXPECT_EQ(models.at("data").at(1).at("root"), "/adapters/sql");

  auto load = post(sim.port, "/v1/load_lora_adapter", R"({"lora_name":"chat-lora","lora_path":"/a/chat"})");
  EXPECT_EQ(load.status, 200) << load.body;
  EXPECT_EQ(
      post(sim.port, "/v1/load_lora_adapter", R"({"lora_name":"chat-lora","lora_path":"/a/chat"})").status,
      400);
  EXPECT_EQ(bj::parse(http(sim.port, bhttp::verb::get, "/v1/models").body).at("data").as_array().size(), 3u);
  auto lora_req = post(sim.port, "/v1/completions",
                       R"({"model":"chat-lora","prompt":"x","max_tokens":2,"ignore_eos":true})");
  EXPECT_EQ(lora_req.status, 200) << lora_req.body;
  EXPECT_EQ(bj::parse(lora_req.body).at("model"), "chat-lora");
  EXPECT_EQ(post(sim.port, "/v1/unload_lora_adapter", R"({"lora_name":"chat-lora"})").status, 200);
  EXPECT_EQ(post(sim.port, "/v1/unload_lora_adapter", R"({"lora_name":"chat-lora"})").status, 404);
  EXPECT_EQ(post(sim.port, "/v1/completions", R"({"model":"chat-lora","prompt":"x"})").status, 404);

  auto tok =
      bj::parse(post(sim.port, "/tokenize", R"({"prompt":"Hello world","return_token_strs":true})").body);
  EXPECT_EQ(tok.at("count"), 4);  // "Hell" "o" " worl" "d"
  EXPECT_EQ(tok.at("token_strs").at(1), "o");
  std::string ids;
  for (const auto& t : tok.at("tokens").as_array()) ids += (ids.empty() ? "" : ",") + bj::serialize(t);
  auto detok = bj::parse(post(sim.port, "/detokenize", R"({"tokens":[)" + ids + "]}").body);
  EXPECT_EQ(detok.at("prompt"), "Hello world");
  EXPECT_EQ(post(sim.port, "/detokenize", R"({"tokens":[0]})").status, 400);

  EXPECT_EQ(post(sim.port, "/reset_prefix_cache", "").status, 200);

  const std::string m = http(sim.port, bhttp::verb::get, "/metrics").body;
  EXPECT_EQ(metric(m, "vllm:num_requests_running{engine=\"0\",model_name=\"sim-model\"}"), 0.0) << m;
  EXPECT_EQ(metric(m, "vllm:num_requests_waiting{engine=\"0\",model_name=\"sim-model\"}"), 0.0);
  EXPECT_EQ(
      metric(m,
             "vllm:request_success_total{engine=\"0\",finished_reason=\"length\",model_name=\"sim-model\"}"),
      1.0);
  EXPECT_EQ(metric(m, "vllm:generation_tokens_total{"), 2.0);
  EXPECT_NE(m.find("vllm:cache_config_info{block_size=\"16\""), std::string::npos);
  EXPECT_NE(m.find("# TYPE vllm:time_to_first_token_seconds histogram"), std::string::npos);
  EXPECT_NE(
      m.find("vllm:time_to_first_token_seconds_bucket{engine=\"0\",model_name=\"sim-model\",le=\"0.001\"}"),
      std::string::npos)
      << m;
  EXPECT_NE(m.find("vllm:lora_requests_info{max_lora=\"2\""), std::string::npos);
  EXPECT_EQ(metric(m, "llmd_sim_task_queue_full_total"), 0.0);
}

TEST(SimHttpTest, PrefillDecodeDisaggregation) {
  Sim sim({"--profile", "gpt-oss-120b-h200"}, 2);
  ASSERT_TRUE(sim.ready) << sim.proc.output();
  const uint16_t prefill = sim.port, decode = static_cast<uint16_t>(sim.port + 1);
  std::string prompt = "[";
  for (int i = 1; i <= 200; ++i) prompt += std::to_string(i) + (i < 200 ? "," : "]");
  auto p = post(prefill, "/v1/completions",
                R"({"model":"sim-model","prompt":)" + prompt + R"(,"max_tokens":1,"stream":false,
                    "kv_transfer_params":{"do_remote_decode":true,"do_remote_prefill":false,"remote_engine_id":null,
                    "remote_block_ids":null,"remote_host":null,"remote_port":null}})",
                {{"X-Request-Id", "pd-42"}});
  ASSERT_EQ(p.status, 200) << p.body;
  const auto pv = bj::parse(p.body);
  const auto& kv = pv.at("kv_transfer_params");
  EXPECT_EQ(kv.at("do_remote_prefill"), true);
  EXPECT_EQ(kv.at("do_remote_decode"), false);
  EXPECT_EQ(kv.at("remote_block_ids").as_array().size(), 13u);  // ceil(200 / 16)
  EXPECT_EQ(kv.at("remote_request_id"), "cmpl-pd-42");
  EXPECT_EQ(kv.at("remote_port"), prefill);
  EXPECT_EQ(kv.at("tp_size"), 1);
  EXPECT_EQ(pv.at("usage").at("completion_tokens"), 1);
  // The prefill side holds the blocks.
  auto usage = [](uint16_t port) {
    return metric(http(port, bhttp::verb::get, "/metrics").body, "vllm:kv_cache_usage_perc{");
  };
  EXPECT_GT(usage(prefill), 0.0);

  bj::object body;
  body["model"] = "sim-model";
  body["prompt"] = bj::parse(prompt);
  body["max_tokens"] = 8;
  body["ignore_eos"] = true;
  body["kv_transfer_params"] = kv;
  auto d = post(decode, "/v1/completions", bj::serialize(body));
  ASSERT_EQ(d.status, 200) << d.body;
  const auto dv = bj::parse(d.body);
  EXPECT_EQ(dv.at("usage").at("completion_tokens"), 8);
  EXPECT_EQ(dv.at("usage").at("prompt_tokens_details").at("cached_tokens"), 199);
  // Once the decode side has pulled the KV, the prefill side frees the held blocks.
  double u = 1;
  for (int i = 0; i < 100 && u != 0.0; ++i) {
    u = usage(prefill);
    if (u != 0.0) std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(u, 0.0);
}

// ---------------------------------------------------------------------------------------------
// ZMQ KV events
// ---------------------------------------------------------------------------------------------

struct Zmq {
  Zmq() : ctx(zmq_ctx_new()) {}
  ~Zmq() {
    for (void* s : sockets) zmq_close(s);
    zmq_ctx_term(ctx);
  }
  void* socket(int type) {
    void* s = zmq_socket(ctx, type);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    sockets.push_back(s);
    return s;
  }
  void* ctx;
  std::vector<void*> sockets;
};

// One multipart message, or empty after `timeout`.
std::vector<std::string> recv_multipart(void* sock, std::chrono::milliseconds timeout) {
  zmq_pollitem_t item{sock, 0, ZMQ_POLLIN, 0};
  if (zmq_poll(&item, 1, static_cast<long>(timeout.count())) <= 0) return {};
  std::vector<std::string> frames;
  while (true) {
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, 0) < 0) break;
    frames.emplace_back(static_cast<const char*>(zmq_msg_data(&m)), zmq_msg_size(&m));
    const bool more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    if (!more) break;
  }
  return frames;
}

std::string tokens_json(int first, int count) {
  std::string s = "[";
  for (int i = 0; i < count; ++i) s += std::to_string(first + i) + (i + 1 < count ? "," : "]");
  return s;
}

class KvEventsTest : public ::testing::Test {
 protected:
  // With `replay`, the simulator also serves replay requests on `rport`.
  void start(std::vector<std::string> extra, bool replay = false) {
    sim = std::make_unique<Sim>(
        [&] {
          zport = free_port_range(2);
          std::vector<std::string> args = {"--profile", "instant", "--kv-events", "--kv-events-endpoint",
                                           "tcp://*:" + std::to_string(zport)};
          if (replay) {
            rport = free_port();
            args.push_back("--kv-events-replay-endpoint");
            args.push_back("tcp://*:" + std::to_string(rport));
          }
          args.insert(args.end(), extra.begin(), extra.end());
          return args;
        },
        1);
    ASSERT_TRUE(sim->ready) << sim->proc.output();
    sub = zmq.socket(ZMQ_SUB);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "kv@", 3);
    zmq_connect(sub, ("tcp://127.0.0.1:" + std::to_string(zport)).c_str());
    // PUB drops messages until the subscription has propagated: send distinct warm-up prompts until
    // one batch arrives, then drain.
    bool subscribed = false;
    for (int i = 0; i < 100 && !subscribed; ++i) {
      post(sim->port, "/v1/completions",
           R"({"model":"sim-model","prompt":)" + tokens_json(100000 + 100 * i, 16) + R"(,"max_tokens":1})");
      subscribed = !recv_multipart(sub, 100ms).empty();
    }
    ASSERT_TRUE(subscribed) << "no KV event batch arrived\n" << sim->proc.output();
    while (!recv_multipart(sub, 200ms).empty()) {
    }
  }
  // Decoded batches received until `pred` holds for one of them (or 30 s pass).
  template <class Pred>
  std::vector<kvevents::EventBatch> collect(Pred pred) {
    std::vector<kvevents::EventBatch> out;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto frames = recv_multipart(sub, 100ms);
      if (frames.empty()) continue;
      EXPECT_EQ(frames.size(), 3u);
      EXPECT_EQ(frames[0], "kv@127.0.0.1:" + std::to_string(sim->port) + "@sim-model");
      EXPECT_EQ(frames[1].size(), 8u);
      auto dec = kvevents::decode_batch(frames[2]);
      EXPECT_TRUE(dec.has_value());
      if (!dec) continue;
      out.push_back(dec->batch);
      if (pred(dec->batch)) break;
    }
    return out;
  }

  Zmq zmq;
  uint16_t zport = 0;
  uint16_t rport = 0;
  std::unique_ptr<Sim> sim;
  void* sub = nullptr;
};

// Whether the batch stores a block whose first token is `token`.
bool stores_block_from(const kvevents::EventBatch& b, uint32_t token) {
  for (const auto& e : b.events) {
    if (auto* s = std::get_if<kvevents::BlockStored>(&e)) {
      if (!s->token_ids.empty() && s->token_ids.front() == token) return true;
    }
  }
  return false;
}

bool has_stored(const kvevents::EventBatch& b, uint64_t hash) {
  for (const auto& e : b.events) {
    if (auto* s = std::get_if<kvevents::BlockStored>(&e)) {
      for (uint64_t h : s->block_hashes) {
        if (h == hash) return true;
      }
    }
  }
  return false;
}

TEST_F(KvEventsTest, SubscriberReceivesBlockStoredWithVllmHashes) {
  start({});
  auto r = post(sim->port, "/v1/completions",
                R"({"model":"sim-model","prompt":)" + tokens_json(1, 32) + R"(,"max_tokens":1})");
  ASSERT_EQ(r.status, 200) << r.body;
  // sha256_cbor with PYTHONHASHSEED=0 over tokens 1..16 and 17..32, chained as vLLM chains block
  // hashes (vllm/v1/core/kv_cache_utils.py).
  const auto batches =
      collect([](const kvevents::EventBatch& b) { return has_stored(b, 3236607068019569386ull); });
  ASSERT_FALSE(batches.empty());
  const auto& st = std::get<kvevents::BlockStored>(batches.back().events.at(0));
  EXPECT_EQ(st.block_hashes, (std::vector<uint64_t>{3236607068019569386ull, 2758186210834249151ull}));
  EXPECT_FALSE(st.parent_block_hash.has_value());
  EXPECT_EQ(st.block_size, 16);
  EXPECT_EQ(st.medium, "GPU");
  EXPECT_EQ(st.token_ids.size(), 32u);
  EXPECT_EQ(batches.back().data_parallel_rank, 0);
}

TEST_F(KvEventsTest, SubscriberReceivesBlockRemovedAfterEviction) {
  start({"--num-gpu-blocks", "9"});  // 8 usable blocks
  post(sim->port, "/v1/completions",
       R"({"model":"sim-model","prompt":)" + tokens_json(1, 32) + R"(,"max_tokens":1})");
  collect([](const kvevents::EventBatch& b) { return has_stored(b, 3236607068019569386ull); });
  // 128 new tokens need all 8 blocks: every cached block is evicted.
  post(sim->port, "/v1/completions",
       R"({"model":"sim-model","prompt":)" + tokens_json(5000, 128) + R"(,"max_tokens":1})");
  bool removed_first = false;
  collect([&](const kvevents::EventBatch& b) {
    for (const auto& e : b.events) {
      if (auto* rm = std::get_if<kvevents::BlockRemoved>(&e)) {
        EXPECT_EQ(rm->medium, "GPU");
        for (uint64_t h : rm->block_hashes) removed_first |= h == 3236607068019569386ull;
      }
    }
    return removed_first;
  });
  EXPECT_TRUE(removed_first);
}

TEST_F(KvEventsTest, ReplayReturnsMissedBatches) {
  start({}, true);
  for (int i = 0; i < 3; ++i) {
    post(sim->port, "/v1/completions",
         R"({"model":"sim-model","prompt":)" + tokens_json(1000 * (i + 1), 16) + R"(,"max_tokens":1})");
  }
  // Wait until the last of them has been published (its one block holds tokens 3000..3015).
  const auto seen = collect([](const kvevents::EventBatch& b) { return stores_block_from(b, 3000); });
  ASSERT_FALSE(seen.empty());
  ASSERT_TRUE(stores_block_from(seen.back(), 3000));
  void* dealer = zmq.socket(ZMQ_DEALER);
  ASSERT_EQ(zmq_connect(dealer, ("tcp://127.0.0.1:" + std::to_string(rport)).c_str()), 0);
  const std::string start_seq = kvevents::encode_seq(0);
  zmq_send(dealer, "", 0, ZMQ_SNDMORE);
  zmq_send(dealer, start_seq.data(), start_seq.size(), 0);
  std::vector<uint64_t> seqs;
  bool ended = false;
  for (int i = 0; i < 200 && !ended; ++i) {
    auto frames = recv_multipart(dealer, 2000ms);
    ASSERT_FALSE(frames.empty()) << "no replay reply";
    ASSERT_EQ(frames.size(), 4u);  // "", topic, seq, payload
    EXPECT_EQ(frames[0], "");
    EXPECT_EQ(frames[1], "kv@127.0.0.1:" + std::to_string(sim->port) + "@sim-model");
    const uint64_t seq = *kvevents::decode_seq(frames[2]);
    if (seq == kvevents::kReplayEndSeq) {
      EXPECT_TRUE(frames[3].empty());
      ended = true;
      break;
    }
    EXPECT_TRUE(kvevents::decode_batch(frames[3]).has_value());
    seqs.push_back(seq);
  }
  EXPECT_TRUE(ended);
  // Every batch since sequence 0, contiguous: the warm-up ones and the three above.
  ASSERT_GE(seqs.size(), 4u);
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i);
}

TEST_F(KvEventsTest, LegacyArrayFormat) {
  start({"--kv-events-legacy-format"});
  post(sim->port, "/v1/completions",
       R"({"model":"sim-model","prompt":)" + tokens_json(1, 16) + R"(,"max_tokens":1})");
  std::string raw;
  for (int i = 0; i < 50 && raw.empty(); ++i) {
    auto frames = recv_multipart(sub, 100ms);
    if (frames.size() == 3) raw = frames[2];
  }
  ASSERT_GT(raw.size(), 12u);
  // [ts, [event...], 0] with the event a positional array whose first element is the tag.
  EXPECT_EQ(static_cast<uint8_t>(raw[0]), 0x93);
  EXPECT_EQ(static_cast<uint8_t>(raw[11]) & 0xf0, 0x90);
  auto dec = kvevents::decode_batch(raw);
  ASSERT_TRUE(dec.has_value());
  EXPECT_TRUE(std::holds_alternative<kvevents::BlockStored>(dec->batch.events.at(0)));
}

}  // namespace
}  // namespace llmd::testing
