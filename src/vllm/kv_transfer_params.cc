#include "vllm/kv_transfer_params.h"

#include <boost/json/serialize.hpp>

#include "json/json.h"

namespace llmd::vllm {

namespace bj = boost::json;

KvTransferParams read_kv_transfer_params(json::ObjectReader& kv) {
  KvTransferParams p;
  p.do_remote_decode = kv.optional_bool("do_remote_decode").value_or(false);
  p.do_remote_prefill = kv.optional_bool("do_remote_prefill").value_or(false);
  if (auto s = kv.optional_string("remote_engine_id")) p.remote_engine_id = std::string(*s);
  if (auto s = kv.optional_string("remote_request_id")) p.remote_request_id = std::string(*s);
  if (auto s = kv.optional_string("remote_host")) p.remote_host = std::string(*s);
  p.remote_port = kv.optional_int("remote_port");
  p.tp_size = kv.optional_int("tp_size");
  const bj::value* ids = kv.find("remote_block_ids");
  if (ids != nullptr && ids->is_array()) {
    for (const auto& v : ids->get_array()) {
      if (v.is_int64()) {
        p.remote_block_ids.push_back(v.get_int64());
      } else if (v.is_array()) {
        for (const auto& w : v.get_array()) {
          if (w.is_int64()) p.remote_block_ids.push_back(w.get_int64());
        }
      }
    }
  } else if (ids != nullptr && !ids->is_null()) {
    kv.fail_type("remote_block_ids", "array");
  }
  return p;
}

std::string render_kv_transfer_params(const KvTransferParams& p) {
  auto optional = [](const auto& v) { return v ? bj::value(*v) : bj::value(nullptr); };
  bj::object o;
  o["do_remote_prefill"] = p.do_remote_prefill;
  o["do_remote_decode"] = p.do_remote_decode;
  o["remote_block_ids"] = bj::array(p.remote_block_ids.begin(), p.remote_block_ids.end());
  o["remote_engine_id"] = optional(p.remote_engine_id);
  o["remote_request_id"] = optional(p.remote_request_id);
  o["remote_host"] = optional(p.remote_host);
  o["remote_port"] = optional(p.remote_port);
  o["tp_size"] = optional(p.tp_size);
  return bj::serialize(o);
}

}  // namespace llmd::vllm
