// Fuzz target for discovery input: the YAML/JSON endpoint file and the --endpoint flag syntax. Any
// input must parse into valid, unique endpoints or fail with kConfig; never crash.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "datalayer/discovery.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const llmd::datalayer::DiscoveryDefaults defaults;
  auto file = llmd::datalayer::parse_discovery(text, "fuzz.yaml", defaults);
  if (file) {
    std::set<std::string> ids;
    for (const auto& t : *file) {
      if (t.spec.id.empty() || t.spec.address.empty() || t.spec.port == 0) std::abort();
      if (!ids.insert(t.spec.id).second) std::abort();
    }
  } else if (file.error().code != llmd::ErrorCode::kConfig) {
    std::abort();
  }
  auto flag = llmd::datalayer::parse_endpoint_flag(text, defaults);
  if (flag) {
    if (flag->spec.address.empty() || flag->spec.port == 0 || flag->spec.id.empty()) std::abort();
  } else if (flag.error().code != llmd::ErrorCode::kConfig) {
    std::abort();
  }
  return 0;
}
