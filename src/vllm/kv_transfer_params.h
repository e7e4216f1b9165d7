#pragma once
// The kv_transfer_params object of vLLM's NixlConnector
// (vllm/distributed/kv_transfer/kv_connector/v1/nixl_connector.py), shared by the simulator, the
// router and a P/D sidecar. A client asks a prefill server for
// {"do_remote_decode":true, ...nulls}; the prefill's response carries do_remote_prefill, the held
// block ids, its engine id, side-channel host and port and tp_size; the decode server receives
// those back verbatim with do_remote_prefill true.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmd::json {
class ObjectReader;
}

namespace llmd::vllm {

struct KvTransferParams {
  bool do_remote_decode = false;
  bool do_remote_prefill = false;
  std::optional<std::string> remote_engine_id;
  std::optional<std::string> remote_request_id;
  std::optional<std::string> remote_host;
  std::optional<int64_t> remote_port;
  std::vector<int64_t> remote_block_ids;
  std::optional<int64_t> tp_size;
};

// Reads a kv_transfer_params object. Absent and null fields stay unset; a wrongly typed field is
// recorded in `kv`'s Extractor, named by its path. remote_block_ids may be flat ([1,2,3]) or, as
// newer vLLM sends it, one list per KV-cache group ([[1,2,3]]); either is flattened.
KvTransferParams read_kv_transfer_params(json::ObjectReader& kv);

// The object as vLLM renders it: every field present, unset ones as null.
std::string render_kv_transfer_params(const KvTransferParams& p);

}  // namespace llmd::vllm
