// Fuzz target for the EndpointPickerConfig loader: YAML parsing, strict decoding, every built-in plugin
// factory and the defaulting rules. Any input must give a plan or a kConfig error, never a crash.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/clock.h"
#include "log/log.h"
#include "sched/builtin_plugins.h"
#include "sched/picker_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = llmd::log::set_level("off");
  (void)quiet;
  static llmd::ManualClock clock;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto plan = llmd::sched::load_scheduler_plan(text, llmd::sched::builtin_registry(), clock, "fuzz");
  if (!plan && plan.error().code != llmd::ErrorCode::kConfig) std::abort();
  if (plan && (plan->profiles.empty() || plan->handler.impl == nullptr)) std::abort();
  for (const auto& p : plan ? plan->profiles : std::vector<llmd::sched::ProfilePlan>{}) {
    if (p.picker.impl == nullptr) std::abort();
  }
  return 0;
}
