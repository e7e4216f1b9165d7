#include "sched/plugins/openai-parser/openai_parser.h"

namespace llmd::sched::plugins {

Result<std::shared_ptr<Plugin>> create_openai_parser(const PluginArgs& args) {
  return make_plugin_without_params<OpenAiParser>(args);
}

}  // namespace llmd::sched::plugins
