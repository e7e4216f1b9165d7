#pragma once
// Everything an EPP data plane runs besides its own request path (`llmd router`'s gateway, `llmd epp`'s
// ext_proc server): the shared flags, endpoint discovery, the data layer and its scrape loop, the
// scheduler built from the EndpointPickerConfig, llm-d's EPP metrics and the admin server.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/error.h"
#include "datalayer/data_layer.h"

namespace CLI {
class App;
}

namespace llmd::sched {
class EndpointStore;
class Scheduler;
}  // namespace llmd::sched

namespace llmd::epp {

class EppMetrics;

// The shared flags; durations stay as typed until Runtime::create() parses them.
struct RuntimeOptions {
  std::string admin_host = "0.0.0.0";
  uint16_t admin_port = 9090;
  std::vector<std::string> endpoints;
  std::string discovery_file;
  std::string discovery_poll = "1s";
  std::string ns = "default";
  std::string config_file;
  std::string config_text;
  std::string refresh_metrics_interval = "50ms";
  std::string staleness = "2s";
  std::string scrape_timeout = "1s";
  std::string models_interval = "5s";
  std::string pool_name = "llmd";
  datalayer::OutlierOptions outlier;
  std::string outlier_base_ejection_time = "30s";
  std::string outlier_max_ejection_time = "300s";
  std::string outlier_interval = "10s";
  uint64_t seed = 0;  // the data plane's tie-breaking and request ids
  std::string scrape_tick = "5ms";
  bool scrape_by_name = true;
};

// Registers RuntimeOptions' flags on a data plane's subcommand.
void add_runtime_flags(CLI::App& app, RuntimeOptions& o);

// A duration flag as typed ("50ms", "1m30s", spelled as in config files) and where its value goes.
struct DurationFlag {
  std::string_view flag;
  const std::string* text;
  Nanos* out;
};
// Parses each in turn; the first that is not a duration is a kConfig error naming its flag.
Result<void> parse_duration_flags(std::initializer_list<DurationFlag> flags);

class Runtime {
 public:
  // Checks the flags and loads the endpoints and the EndpointPickerConfig (kConfig errors name the flag
  // or file); starts nothing. `workers`: the data plane's request threads, each with its own metric
  // series cache; `server_header`: the admin server's Server header.
  static Result<std::unique_ptr<Runtime>> create(const RuntimeOptions& options, const Clock& clock,
                                                 unsigned workers, std::string server_header);
  ~Runtime();  // stop()
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Starts the scrape loop, applies the endpoints, starts watching the discovery file, then the admin
  // server. Call once, after the data plane has registered its metrics and sources.
  Result<void> start();
  // Stops the watcher, the scrapes and their loop, then drains the admin server and waits for it. A
  // data plane calls it after its own server has stopped and before unbinding what /metrics reads.
  // Idempotent.
  void stop();

  sched::Scheduler& scheduler();
  sched::EndpointStore& store();
  datalayer::DataLayer& data();
  EppMetrics& metrics();
  const Clock& clock() const;
  uint16_t admin_port() const;  // after start()
  // Endpoints given at start-up, from the flags and the discovery file.
  size_t initial_endpoints() const;

 private:
  struct State;
  explicit Runtime(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
};

}  // namespace llmd::epp
