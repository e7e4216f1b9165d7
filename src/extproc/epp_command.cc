#include "extproc/epp_command.h"

#include <csignal>
#include <memory>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/signals.h"
#include "epp/epp_metrics.h"
#include "epp/runtime.h"
#include "extproc/server.h"
#include "log/log.h"

namespace llmd::extproc {

namespace {

struct EppOptions {
  epp::RuntimeOptions runtime;
  std::string host = "0.0.0.0";
  uint16_t grpc_port = 9002;
  uint16_t grpc_health_port = 9003;
  int max_recv_msg_bytes = 4 * 1024 * 1024;
  int max_send_msg_bytes = 64 * 1024 * 1024;
  size_t max_body_bytes = json::ParseLimits{}.max_bytes;
  std::string drain_timeout = "30s";
  bool disable_subset_filter = false;
  bool emit_endpoint_scores = false;
  bool secure_serving = true;
  std::string cert_path;
};

// Waits in this thread for SIGINT or SIGTERM, which block_stop_signals() kept pending.
int wait_for_stop_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

int run(const EppOptions& o) {
  block_stop_signals();  // before any thread starts: the signal is taken by sigwait below
  const Clock& clock = SystemClock::instance();
  auto fail = [](const Error& e) {
    log::error("llmd epp: " + e.message);
    return 2;
  };
  Nanos drain{0};
  if (auto r = epp::parse_duration_flags({{"--drain-timeout", &o.drain_timeout, &drain}}); !r)
    return fail(r.error());
  if (o.max_recv_msg_bytes <= 0 || o.max_send_msg_bytes <= 0) {
    return fail(
        Error(ErrorCode::kConfig, "--grpc-max-recv-msg-size and --grpc-max-send-msg-size must be > 0"));
  }
  // gRPC runs streams on its own threads; each of the first `slots` keeps its own metric series
  // cache, later ones share a locked one.
  const unsigned slots = 2 * std::max(1u, std::thread::hardware_concurrency());
  auto runtime = epp::Runtime::create(o.runtime, clock, slots, "llmd-epp");
  if (!runtime) return fail(runtime.error());
  epp::Runtime& rt = **runtime;

  ProcessorOptions popts;
  popts.disable_subset_filter = o.disable_subset_filter;
  popts.emit_endpoint_scores = o.emit_endpoint_scores;
  popts.max_body_bytes = o.max_body_bytes;
  const ProcessorContext ctx{rt.scheduler(), rt.store(), rt.data(), rt.metrics(), clock, popts};
  ServerOptions sopts;
  sopts.host = o.host;
  sopts.port = o.grpc_port;
  sopts.health_port = o.grpc_health_port;
  sopts.max_recv_msg_bytes = o.max_recv_msg_bytes;
  sopts.max_send_msg_bytes = o.max_send_msg_bytes;
  sopts.metrics_slots = slots;
  sopts.seed = o.runtime.seed != 0 ? o.runtime.seed : static_cast<uint64_t>(clock.wall_now().count());
  if (o.secure_serving) {
    auto tls = o.cert_path.empty() ? self_signed_tls_material("llmd-epp") : load_tls_material(o.cert_path);
    if (!tls) return fail(tls.error());
    sopts.tls = std::move(*tls);
  } else if (!o.cert_path.empty()) {
    return fail(Error(ErrorCode::kConfig, "--cert-path needs --secure-serving"));
  }
  Server server(ctx, sopts);
  auto& registry = rt.metrics().registry();
  struct Counter {
    const char* name;
    const char* help;
    uint64_t ServerStats::*field;
  };
  for (const Counter& c :
       {Counter{"llmd_epp_extproc_streams_total", "ext_proc Process streams opened.", &ServerStats::streams},
        Counter{"llmd_epp_extproc_decisions_total", "Requests scheduled over ext_proc.",
                &ServerStats::decisions},
        Counter{"llmd_epp_extproc_protocol_errors_total",
                "ext_proc streams ended with INVALID_ARGUMENT (a message out of order or empty).",
                &ServerStats::protocol_errors}}) {
    auto field = c.field;
    if (auto r = registry.counter_callback(
            c.name, c.help, [&server, field] { return static_cast<double>(server.stats().*field); });
        !r) {
      return fail(r.error());
    }
  }

  if (auto r = rt.start(); !r) return fail(r.error());
  if (auto r = server.start(); !r) {
    rt.stop();
    return fail(r.error());
  }
  // Discovery applied its initial endpoints in rt.start(): the datastore is synced.
  server.set_ready(true);
  log::info("llmd epp ready", log::kv("grpc_port", server.port()), log::kv("tls", o.secure_serving),
            log::kv("grpc_health_port", server.health_port()), log::kv("metrics_port", rt.admin_port()),
            log::kv("endpoints", rt.initial_endpoints()));

  const int sig = wait_for_stop_signal();
  log::info(
      "llmd epp draining", log::kv("signal", sig),
      log::kv("drain_timeout_ms", std::chrono::duration_cast<std::chrono::milliseconds>(drain).count()));
  server.shutdown(std::chrono::duration_cast<std::chrono::milliseconds>(drain));
  rt.stop();
  log::info("llmd epp stopped");
  return 0;
}

}  // namespace

cli::RunFn setup_epp_command(CLI::App& app) {
  auto o = std::make_shared<EppOptions>();
  app.add_option("--grpc-host", o->host, "Address the ext_proc and health servers listen on")
      ->capture_default_str();
  app.add_option("--grpc-port", o->grpc_port, "envoy.service.ext_proc.v3.ExternalProcessor port")
      ->capture_default_str();
  app.add_option("--grpc-health-port", o->grpc_health_port, "grpc.health.v1.Health port")
      ->capture_default_str();
  app.add_option("--grpc-max-recv-msg-size", o->max_recv_msg_bytes, "Largest gRPC message accepted, in bytes")
      ->capture_default_str();
  app.add_option("--grpc-max-send-msg-size", o->max_send_msg_bytes, "Largest gRPC message sent, in bytes")
      ->capture_default_str();
  app.add_option("--max-body-bytes", o->max_body_bytes,
                 "Largest request body buffered for scheduling (413 above)")
      ->capture_default_str();
  app.add_option("--drain-timeout", o->drain_timeout,
                 "After SIGTERM: how long health reports NOT_SERVING while streams are still served")
      ->capture_default_str();
  app.add_flag("--secure-serving{true}", o->secure_serving,
               "TLS on the ext_proc port, with --cert-path or a self-signed certificate (=false: plaintext)")
      ->capture_default_str();
  app.add_option("--cert-path", o->cert_path, "Directory holding tls.crt and tls.key for --secure-serving");
  app.add_flag(
      "--emit-endpoint-scores", o->emit_endpoint_scores,
      "Add every candidate's score to the envoy.lb metadata (x-gateway-destination-endpoint-scores)");
  app.add_flag("--disable-endpoint-subset-filter", o->disable_subset_filter,
               "Ignore the data plane's envoy.lb.subset_hint");
  o->runtime.admin_port = 9090;
  epp::add_runtime_flags(app, o->runtime);
  // llm-d's name for the Prometheus port.
  app.add_option("--metrics-port", o->runtime.admin_port, "Same as --admin-port (llm-d's name)");
  app.add_option("--pool-namespace", o->runtime.ns, "Same as --namespace (llm-d's name)");
  return [o] { return run(*o); };
}

}  // namespace llmd::extproc
