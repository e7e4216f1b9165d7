#include "vllm/kv_transfer_params.h"

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include "json/json.h"

namespace llmd::vllm {
namespace {

namespace bj = boost::json;

// Reads `text` (a JSON object) as kv_transfer_params; the error message when a field is wrong.
Result<KvTransferParams> read(std::string_view text) {
  auto doc = json::parse(text);
  if (!doc) return doc.error();
  json::Extractor ex;
  json::ObjectReader kv = ex.root(*doc);
  KvTransferParams p = read_kv_transfer_params(kv);
  if (!ex.ok()) return ex.error();
  return p;
}

TEST(KvTransferParams, ReadsTheRequestToAPrefillServer) {
  auto p = read(R"({"do_remote_decode":true,"do_remote_prefill":false,"remote_engine_id":null,
                    "remote_block_ids":null,"remote_host":null,"remote_port":null})");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->do_remote_decode);
  EXPECT_FALSE(p->do_remote_prefill);
  EXPECT_FALSE(p->remote_engine_id.has_value());
  EXPECT_FALSE(p->remote_host.has_value());
  EXPECT_FALSE(p->remote_port.has_value());
  EXPECT_TRUE(p->remote_block_ids.empty());
}

TEST(KvTransferParams, ReadsAPrefillResponseWithFlatOrGroupedBlockIds) {
  auto flat = read(R"({"do_remote_prefill":true,"remote_block_ids":[1,2,4],"remote_engine_id":"e",
                       "remote_request_id":"r","remote_host":"10.0.0.1","remote_port":5600,"tp_size":2})");
  ASSERT_TRUE(flat) << flat.error().message;
  EXPECT_TRUE(flat->do_remote_prefill);
  EXPECT_EQ(flat->remote_block_ids, (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ(flat->remote_engine_id, "e");
  EXPECT_EQ(flat->remote_request_id, "r");
  EXPECT_EQ(flat->remote_host, "10.0.0.1");
  EXPECT_EQ(flat->remote_port, 5600);
  EXPECT_EQ(flat->tp_size, 2);
  auto grouped = read(R"({"do_remote_prefill":true,"remote_block_ids":[[1,2],[4]]})");
  ASSERT_TRUE(grouped) << grouped.error().message;
  EXPECT_EQ(grouped->remote_block_ids, (std::vector<int64_t>{1, 2, 4}));
}

TEST(KvTransferParams, WrongTypesNameTheField) {
  for (const char* body : {R"({"remote_block_ids":7})", R"({"remote_port":"5600"})",
                           R"({"do_remote_decode":"yes"})", R"({"remote_host":1})"}) {
    auto p = read(body);
    ASSERT_FALSE(p) << body;
    const std::string field = bj::parse(body).as_object().begin()->key();
    EXPECT_NE(p.error().message.find(field), std::string::npos) << p.error().message;
  }
}

TEST(KvTransferParams, RendersEveryFieldWithNullsForUnset) {
  KvTransferParams p;
  p.do_remote_prefill = true;
  p.remote_block_ids = {3, 5};
  p.remote_engine_id = "e";
  p.remote_port = 9;
  EXPECT_EQ(render_kv_transfer_params(p),
            R"({"do_remote_prefill":true,"do_remote_decode":false,"remote_block_ids":[3,5],)"
            R"("remote_engine_id":"e","remote_request_id":null,"remote_host":null,"remote_port":9,)"
            R"("tp_size":null})");
  auto back = read(render_kv_transfer_params(p));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->remote_block_ids, p.remote_block_ids);
  EXPECT_EQ(back->remote_engine_id, p.remote_engine_id);
  EXPECT_EQ(back->remote_port, p.remote_port);
  EXPECT_FALSE(back->remote_host.has_value());
}

}  // namespace
}  // namespace llmd::vllm
