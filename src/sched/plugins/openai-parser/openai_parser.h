#pragma once
// openai-parser: reads OpenAI-API request bodies (llm-d-router
// pkg/epp/framework/plugins/requesthandling/parsers/openai). llmd's data planes parse OpenAI completions and
// chat completions built in (epp/request_fields.h); this plugin is what requestHandler.parsers names for
// that behaviour. llm-d's other parsers (anthropic-parser, vllmhttp-parser, sglanghttp-parser,
// vllmgrpc-parser, vertexai-parser, passthrough-parser) are not built.

#include <memory>
#include <string_view>

#include "sched/data_plane.h"
#include "sched/plugin.h"
#include "sched/registry.h"

namespace llmd::sched::plugins {

inline constexpr std::string_view kOpenAiParserType = "openai-parser";

class OpenAiParser final : public Plugin, public RequestParser {
 public:
  explicit OpenAiParser(TypedName tn) : Plugin(std::move(tn)) {}
};

Result<std::shared_ptr<Plugin>> create_openai_parser(const PluginArgs& args);

}  // namespace llmd::sched::plugins
