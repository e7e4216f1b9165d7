#include "vllm/api.h"

#include <fmt/format.h>

namespace llmd::vllm {

std::string_view to_string(ApiKind api) {
  switch (api) {
    case ApiKind::kCompletions:
      return "completions";
    case ApiKind::kChatCompletions:
      return "chat";
    case ApiKind::kOther:
      return "other";
  }
  return "other";
}

Result<ApiKind> parse_api_kind(std::string_view name) {
  if (name == "completions" || name == "completion") return ApiKind::kCompletions;
  if (name == "chat") return ApiKind::kChatCompletions;
  return make_error(ErrorCode::kConfig,
                    fmt::format("api: unknown '{}' (expected completions or chat)", name));
}

std::string_view api_path(ApiKind api) {
  switch (api) {
    case ApiKind::kCompletions:
      return "/v1/completions";
    case ApiKind::kChatCompletions:
      return "/v1/chat/completions";
    case ApiKind::kOther:
      break;
  }
  return {};
}

}  // namespace llmd::vllm
