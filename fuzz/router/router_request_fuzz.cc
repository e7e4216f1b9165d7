// Fuzz target for the gateway's request-field extraction: any body must either yield a request with a
// non-empty model or fail with kInvalidArgument/kResourceExhausted and a message, for both routes.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "epp/request_fields.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  static llmd::json::Parser parser(llmd::json::ParseLimits{1 << 20, 32, 1 << 20});
  for (auto kind : {llmd::vllm::ApiKind::kCompletions, llmd::vllm::ApiKind::kChatCompletions}) {
    llmd::sched::LLMRequest req;
    req.kind = kind;
    llmd::epp::RequestFields fields;
    auto r = llmd::epp::parse_request_fields(body, parser, req, fields);
    if (r) {
      if (req.model.empty() || req.estimated_tokens < 0) std::abort();
    } else {
      const auto code = r.error().code;
      if (code != llmd::ErrorCode::kInvalidArgument && code != llmd::ErrorCode::kResourceExhausted)
        std::abort();
      if (r.error().message.empty()) std::abort();
    }
  }
  return 0;
}
