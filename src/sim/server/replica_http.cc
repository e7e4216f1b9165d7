// A replica's HTTP endpoints other than the completions: health, version, metrics, model list,
// tokenizer and control, each answering as vLLM's OpenAI server does.

#include <boost/json.hpp>

#include "http/metrics_endpoint.h"
#include "json/json.h"
#include "sim/server/replica.h"
#include "sim/server/replica_internal.h"
#include "sim/server/replica_metrics.h"

namespace llmd::sim {

namespace bj = boost::json;
using http::Status;

namespace {

http::Response json_ok(const http::Request& req, const bj::object& body) {
  return http::json_response(Status::ok, bj::serialize(body), req.version(), req.keep_alive());
}

}  // namespace

http::Router Replica::make_router() {
  http::Router router;
  using http::Verb;
  // Handlers are members: the server, which owns the router, stops before the replica goes.
  auto bind = [this](http::Awaitable<void> (Replica::*handler)(http::Request&, http::Responder&)) {
    return [this, handler](http::Request& req, http::Responder& res) { return (this->*handler)(req, res); };
  };
  auto control = [this](ControlKind kind) {
    return [this, kind](http::Request& req, http::Responder& res) { return handle_control(req, res, kind); };
  };
  auto completion = [this](ApiKind api) {
    return [this, api](http::Request& req, http::Responder& res) { return handle_completion(req, res, api); };
  };
  router.add(Verb::post, "/v1/completions", completion(ApiKind::kCompletions));
  router.add(Verb::post, "/v1/chat/completions", completion(ApiKind::kChatCompletions));
  router.add(Verb::get, "/health", bind(&Replica::handle_health));
  router.add(Verb::get, "/ping", bind(&Replica::handle_health));
  router.add(Verb::post, "/ping", bind(&Replica::handle_health));
  router.add(Verb::get, "/version", bind(&Replica::handle_version));
  // As vLLM's prometheus_client does, `name[]` parameters limit the page to those samples.
  http::mount_metrics(router, metrics_->registry());
  router.add(Verb::get, "/v1/models", bind(&Replica::handle_models));
  router.add(Verb::post, "/tokenize", bind(&Replica::handle_tokenize));
  router.add(Verb::post, "/detokenize", bind(&Replica::handle_detokenize));
  router.add(Verb::post, "/reset_prefix_cache", control(ControlKind::kReset));
  router.add(Verb::post, "/v1/load_lora_adapter", control(ControlKind::kLoadLora));
  router.add(Verb::post, "/v1/unload_lora_adapter", control(ControlKind::kUnloadLora));
  router.add(Verb::post, "/sim/kv_transfer_done", bind(&Replica::handle_kv_transfer_done));
  return router;
}

bool Replica::model_known(std::string_view model) const {
  return model == config_.model || loras_.contains(std::string(model));
}

http::Awaitable<void> Replica::handle_health(http::Request& req, http::Responder& res) {
  http::Response out{clock_.now() < ready_at_ ? Status::service_unavailable : Status::ok, req.version()};
  out.keep_alive(req.keep_alive());
  out.prepare_payload();
  co_await res.send(std::move(out));
}

http::Awaitable<void> Replica::handle_version(http::Request& req, http::Responder& res) {
  bj::object o;
  o["version"] = config_.version;
  co_await res.send(json_ok(req, o));
}

http::Awaitable<void> Replica::handle_models(http::Request& req, http::Responder& res) {
  const int64_t created = std::chrono::duration_cast<std::chrono::seconds>(clock_.wall_now()).count();
  auto entry = [&](const std::string& id, const std::string& root, const bj::value& parent) {
    bj::object perm;
    perm["id"] = "modelperm-" + id;
    perm["object"] = "model_permission";
    perm["created"] = created;
    perm["allow_create_engine"] = false;
    perm["allow_sampling"] = true;
    perm["allow_logprobs"] = true;
    perm["allow_search_indices"] = false;
    perm["allow_view"] = true;
    perm["allow_fine_tuning"] = false;
    perm["organization"] = "*";
    perm["group"] = nullptr;
    perm["is_blocking"] = false;
    bj::object m;
    m["id"] = id;
    m["object"] = "model";
    m["created"] = created;
    m["owned_by"] = "vllm";
    m["root"] = root;
    m["parent"] = parent;
    m["max_model_len"] = engine_->config().max_model_len;
    m["permission"] = bj::array{perm};
    return m;
  };
  bj::array data;
  data.push_back(entry(config_.model, config_.model, nullptr));
  for (const auto& [name, path] : loras_) data.push_back(entry(name, path, bj::value(config_.model)));
  bj::object o;
  o["object"] = "list";
  o["data"] = std::move(data);
  co_await res.send(json_ok(req, o));
}

http::Awaitable<void> Replica::handle_tokenize(http::Request& req, http::Responder& res) {
  auto doc = json::parse(req.body());
  if (!doc) {
    co_await res.send(error_for(req, Status::bad_request, doc.error().message));
    co_return;
  }
  json::Extractor ex;
  json::ObjectReader body = ex.root(*doc);
  std::string text;
  bool add_special = true;
  if (body.find("messages") != nullptr) {
    json::ArrayReader msgs = body.required_array("messages");
    std::vector<ChatMessage> conv;
    for (size_t i = 0; msgs && i < msgs.size(); ++i) {
      json::ObjectReader m = msgs.object(i);
      if (!m) break;
      ChatMessage cm;
      cm.role = std::string(m.required_string("role"));
      cm.content = std::string(m.optional_string("content").value_or(""));
      conv.push_back(std::move(cm));
    }
    text = render_chat(conv, body.optional_bool("add_generation_prompt").value_or(true));
    add_special = body.optional_bool("add_special_tokens").value_or(false);
  } else {
    text = std::string(body.required_string("prompt"));
    add_special = body.optional_bool("add_special_tokens").value_or(true);
  }
  const bool want_strs = body.optional_bool("return_token_strs").value_or(false);
  if (auto m = body.optional_string("model"); m && !model_known(*m)) {
    co_await res.send(
        error_for(req, Status::not_found, "The model `" + std::string(*m) + "` does not exist."));
    co_return;
  }
  if (!ex.ok()) {
    co_await res.send(error_for(req, Status::bad_request, ex.error().message));
    co_return;
  }
  std::vector<uint32_t> ids;
  if (auto r = codec_->encode(text, add_special, ids); !r) {
    co_await res.send(error_for(req, Status::bad_request, r.error().message));
    co_return;
  }
  bj::object o;
  o["count"] = ids.size();
  o["max_model_len"] = engine_->config().max_model_len;
  bj::array tokens;
  bj::array strs;
  for (uint32_t id : ids) {
    tokens.push_back(id);
    if (want_strs) {
      std::string s;
      codec_->append_text(std::span(&id, 1), s);
      strs.emplace_back(s);
    }
  }
  o["tokens"] = std::move(tokens);
  o["token_strs"] = want_strs ? bj::value(std::move(strs)) : bj::value(nullptr);
  co_await res.send(json_ok(req, o));
}

http::Awaitable<void> Replica::handle_detokenize(http::Request& req, http::Responder& res) {
  auto doc = json::parse(req.body());
  if (!doc) {
    co_await res.send(error_for(req, Status::bad_request, doc.error().message));
    co_return;
  }
  json::Extractor ex;
  json::ObjectReader body = ex.root(*doc);
  std::vector<uint32_t> ids;
  if (json::ArrayReader arr = body.required_array("tokens")) {
    for (size_t i = 0; i < arr.size(); ++i) {
      auto v = arr.integer(i);
      if (!v) break;
      if (*v < 0 || *v > 0xffffffffll || !codec_->valid(static_cast<uint32_t>(*v))) {
        arr.fail(i, "token id out of vocabulary");
        break;
      }
      ids.push_back(static_cast<uint32_t>(*v));
    }
  }
  if (!ex.ok()) {
    co_await res.send(error_for(req, Status::bad_request, ex.error().message));
    co_return;
  }
  std::string text;
  codec_->append_text(ids, text);
  bj::object o;
  o["prompt"] = text;
  co_await res.send(json_ok(req, o));
}

// /reset_prefix_cache and the LoRA adapters: the engine thread applies the change and answers.
http::Awaitable<void> Replica::handle_control(http::Request& req, http::Responder& res, ControlKind kind) {
  std::string name, path;
  if (kind != ControlKind::kReset) {
    auto doc = json::parse(req.body());
    if (!doc) {
      co_await res.send(error_for(req, Status::bad_request, doc.error().message));
      co_return;
    }
    json::Extractor ex;
    json::ObjectReader body = ex.root(*doc);
    name = std::string(body.required_string("lora_name"));
    if (kind == ControlKind::kLoadLora) path = std::string(body.required_string("lora_path"));
    if (!ex.ok()) {
      co_await res.send(error_for(req, Status::bad_request, ex.error().message));
      co_return;
    }
    if (kind == ControlKind::kLoadLora && name == config_.model) {
      co_await res.send(
          error_for(req, Status::bad_request, "The lora adapter name must differ from the model."));
      co_return;
    }
  }
  std::shared_ptr<Stream> st;
  const uint64_t sid = open_stream(st);
  Task t;
  t.v = ControlTask{sid, kind, name};
  if (!push_task(std::move(t))) {
    close_stream(sid);
    co_await res.send(error_for(req, Status::service_unavailable, kTaskQueueFull));
    co_return;
  }
  std::vector<Delivery> batch;
  const bool got = co_await next_deliveries(*st, res, batch);
  close_stream(sid);
  if (!got) co_return;
  const Delivery& d = batch[0];
  if (!d.ok) {
    co_await res.send(error_for(req, status_for(d.code), d.message));
    co_return;
  }
  http::Response out{Status::ok, req.version()};
  out.keep_alive(req.keep_alive());
  if (kind == ControlKind::kLoadLora) {
    loras_[name] = path;
    out.set(http::Field::content_type, "text/plain; charset=utf-8");
    out.body() = "Success: LoRA adapter '" + name + "' added successfully.";
  } else if (kind == ControlKind::kUnloadLora) {
    loras_.erase(name);
    out.set(http::Field::content_type, "text/plain; charset=utf-8");
    out.body() = "Success: LoRA adapter '" + name + "' removed successfully.";
  }
  out.prepare_payload();
  co_await res.send(std::move(out));
}

}  // namespace llmd::sim
