#pragma once
// Static endpoint discovery for `llmd router`: a YAML or JSON file (reloaded when it changes) or
// `--endpoint host:port[,key=value...]` flags. Each entry becomes one endpoint per port, with id
// `namespace/<name>-rank-<port index>` as llm-d names the ranks of a data-parallel pod.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "common/clock.h"
#include "common/error.h"
#include "sched/endpoint.h"

namespace llmd::datalayer {

// Which metric names an endpoint's /metrics uses (vLLM's vllm:* or SGLang's sglang:* series).
enum class EngineType { kVllm, kSglang };
std::string_view to_string(EngineType e);
// "vllm" or "sglang".
Result<EngineType> parse_engine_type(std::string_view name);

// The pod label that selects the engine type, and its legacy spelling.
inline constexpr std::string_view kEngineTypeLabel = "llm-d.ai/engine-type";
inline constexpr std::string_view kLegacyEngineTypeLabel = "inference.networking.k8s.io/engine-type";

inline constexpr std::chrono::milliseconds kDefaultScrapeInterval{50};

// One discovered endpoint and how to watch it.
struct EndpointTarget {
  sched::EndpointSpec spec;
  EngineType engine = EngineType::kVllm;
  // Period of /metrics scrapes; zero disables scraping (the endpoint is then always ready).
  Nanos scrape_interval = kDefaultScrapeInterval;
  std::string metrics_path = "/metrics";

  bool operator==(const EndpointTarget& o) const;
};

struct DiscoveryDefaults {
  std::string ns = "default";
  Nanos scrape_interval = kDefaultScrapeInterval;
  std::string metrics_path = "/metrics";  // for endpoints that do not name their own
  EngineType engine = EngineType::kVllm;  // for endpoints that neither name one nor carry the label
};

// Parses a discovery document (format in docs/router.md; llm-d's file-discovery files, whose `port` is a
// string, read as they are). Errors are kConfig and name the path.
Result<std::vector<EndpointTarget>> parse_discovery(std::string_view text, std::string_view source_name,
                                                    const DiscoveryDefaults& defaults);
// Reads and parses a discovery file (kIo when unreadable).
Result<std::vector<EndpointTarget>> load_discovery_file(const std::string& path,
                                                        const DiscoveryDefaults& defaults);

// Parses one `--endpoint` value: `host:port` (IPv6 as `[addr]:port`) followed by comma-separated
// `key=value` items. Keys `name`, `namespace`, `engine`, `interval` and `metrics-path` are settings;
// every other key is a label. Errors are kConfig.
Result<EndpointTarget> parse_endpoint_flag(std::string_view value, const DiscoveryDefaults& defaults);

// Checks a full set: no duplicate ids. Errors are kConfig.
Result<void> check_targets(const std::vector<EndpointTarget>& targets);

// Polls a discovery file on an event loop and calls `on_change` with the new set whenever the file's
// identity (inode, size, modification time) changes and the new content parses. A file that fails to
// parse is logged once and the previous set stays in force. Polling is one stat() per period.
class DiscoveryWatcher : public std::enable_shared_from_this<DiscoveryWatcher> {
 public:
  using OnChange = std::function<void(std::vector<EndpointTarget>)>;

  DiscoveryWatcher(boost::asio::any_io_executor executor, std::string path, DiscoveryDefaults defaults,
                   std::chrono::milliseconds period, OnChange on_change);
  ~DiscoveryWatcher();

  // Loads the file now (start-up); the result is what the caller applies first.
  Result<std::vector<EndpointTarget>> load_initial();
  // Starts polling (posts to the executor). Thread-safe.
  void start();
  // Stops polling. Thread-safe; on_change is not called after the stop has run on the executor.
  void stop();

  uint64_t reloads() const { return reloads_.load(std::memory_order_relaxed); }
  uint64_t reload_errors() const { return reload_errors_.load(std::memory_order_relaxed); }

 private:
  struct FileId {
    uint64_t inode = 0;
    int64_t size = -1;
    int64_t mtime_ns = 0;
    bool operator==(const FileId&) const = default;
  };
  static FileId identify(const std::string& path);
  void arm();
  void poll();

  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
  DiscoveryDefaults defaults_;
  std::chrono::milliseconds period_;
  OnChange on_change_;
  FileId last_id_;
  std::atomic<uint64_t> reloads_{0};
  std::atomic<uint64_t> reload_errors_{0};
};

}  // namespace llmd::datalayer
