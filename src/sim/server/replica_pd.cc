// Prefill/decode disaggregation as vLLM's NixlConnector
// (vllm/distributed/kv_transfer/kv_connector/v1/nixl_connector.py) does it. A prefill request
// (do_remote_decode) computes its prompt, holds its blocks and answers with kv_transfer_params
// naming them; the decode request (do_remote_prefill) carries those back, "pulls" the KV from the
// prefill replica and then tells it to free the blocks. In one process that notice goes straight to
// the peer's task queue; across processes it is a POST to the peer's /sim/kv_transfer_done, the
// simulator's stand-in for NIXL's side channel. A prefill whose decode never reports frees its
// blocks after --kv-transfer-timeout.

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include "http/client.h"
#include "json/json.h"
#include "log/log.h"
#include "sim/server/replica.h"
#include "sim/server/replica_internal.h"

namespace llmd::sim {

namespace asio = http::asio;
namespace bj = boost::json;
using http::Status;

void Replica::take_remote_prefill(const vllm::KvTransferParams& kv, RequestSpec& spec) {
  spec.do_remote_decode = kv.do_remote_decode;
  spec.do_remote_prefill = kv.do_remote_prefill && !kv.do_remote_decode;
  if (!spec.do_remote_prefill) return;
  spec.remote.engine_id = kv.remote_engine_id.value_or("");
  spec.remote.request_id = kv.remote_request_id.value_or("");
  spec.remote.host = kv.remote_host.value_or("");
  spec.remote.port = static_cast<uint16_t>(std::clamp<int64_t>(kv.remote_port.value_or(0), 0, 65535));
}

// What a prefill replica answers: where the decode side finds the blocks it holds.
vllm::KvTransferParams Replica::prefill_result(const std::string& request_id,
                                               const std::vector<uint32_t>& held) {
  vllm::KvTransferParams p;
  p.do_remote_prefill = true;
  p.do_remote_decode = false;
  p.remote_block_ids.assign(held.begin(), held.end());
  p.remote_engine_id = engine_id();
  p.remote_request_id = request_id;
  p.remote_host = config_.advertise_host;
  p.remote_port = port();
  p.tp_size = config_.profile.tensor_parallel_size;
  return p;
}

bool Replica::submit_release(std::string request_id) {
  Task t;
  t.v = ReleaseTask{std::move(request_id)};
  return push_task(std::move(t));
}

// Decode legs whose KV has landed: their prefill replicas may free the blocks.
void Replica::handle_notices(const std::vector<TransferNotice>& notices) {
  for (const auto& n : notices) {
    if (directory_ != nullptr) {
      if (Replica* peer = directory_->find(n.remote.engine_id)) {
        peer->submit_release(n.remote.request_id);
        continue;
      }
    }
    if (n.remote.host.empty() || n.remote.port == 0) continue;  // nowhere to tell: the prefill side times out
    asio::post(worker_, [this, n] { notify_remote_release(n); });
  }
}

void Replica::notify_remote_release(TransferNotice notice) {
  if (!client_) client_ = std::make_unique<http::Client>(worker_);
  asio::co_spawn(
      worker_,
      [this, notice = std::move(notice)]() -> http::Awaitable<void> {
        http::Request req{http::Verb::post, "/sim/kv_transfer_done", 11};
        bj::object body;
        body["remote_engine_id"] = notice.remote.engine_id;
        body["remote_request_id"] = notice.remote.request_id;
        req.body() = bj::serialize(body);
        req.set(http::Field::content_type, "application/json");
        auto r = co_await client_->request(http::Upstream{notice.remote.host, notice.remote.port}, req);
        if (!r || r->result() != Status::ok) {
          release_notify_failures_.fetch_add(1, std::memory_order_relaxed);
          log::warn("P/D release notification failed", log::kv("host", notice.remote.host),
                    log::kv("port", notice.remote.port), log::kv("request_id", notice.remote.request_id));
        }
      },
      asio::detached);
}

// The receiving end of notify_remote_release: a decode replica has pulled a request's KV.
http::Awaitable<void> Replica::handle_kv_transfer_done(http::Request& req, http::Responder& res) {
  auto doc = json::parse(req.body());
  std::string rid;
  if (doc) {
    json::Extractor ex;
    json::ObjectReader body = ex.root(*doc);
    rid = std::string(body.required_string("remote_request_id"));
    if (!ex.ok()) rid.clear();
  }
  if (rid.empty()) {
    co_await res.send(error_for(req, Status::bad_request, "remote_request_id: field required"));
    co_return;
  }
  if (!submit_release(std::move(rid))) {
    co_await res.send(error_for(req, Status::service_unavailable, kTaskQueueFull));
    co_return;
  }
  http::Response out{Status::ok, req.version()};
  out.keep_alive(req.keep_alive());
  out.prepare_payload();
  co_await res.send(std::move(out));
}

}  // namespace llmd::sim
