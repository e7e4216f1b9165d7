// A minimal server for bench/http/run: GET /hello answers a small JSON body through llmd's HTTP
// runtime, so wrk can compare it with nginx serving the same bytes.

#include <cstdio>

#include <CLI/CLI.hpp>

#include "http/server.h"
#include "log/log.h"

namespace {

// The same body nginx returns in bench/http/run (50 bytes).
constexpr std::string_view kBody = R"({"status":"ok","service":"llmd","version":"0.1.0"})";

}  // namespace

int main(int argc, char** argv) {
  using namespace llmd::http;
  CLI::App app("llmd HTTP hello server (benchmark peer)");
  ServerOptions options;
  options.threads = 2;
  app.add_option("--host", options.host, "address to listen on");
  app.add_option("--port", options.port, "port (0 picks one; printed as port=N)");
  app.add_option("--threads", options.threads, "worker threads");
  CLI11_PARSE(app, argc, argv);
  llmd::log::init("warn");

  Router router;
  router.add(Verb::get, "/hello", [](Request& req, Responder& res) -> Awaitable<void> {
    co_await res.send(json_response(Status::ok, std::string(kBody), req.version(), req.keep_alive()));
  });
  Server server(options, std::move(router));
  if (auto started = server.start(); !started) {
    std::fprintf(stderr, "http_hello_server: %s\n", started.error().message.c_str());
    return 1;
  }
  std::printf("port=%u\n", static_cast<unsigned>(server.port()));
  std::fflush(stdout);
  server.run_until_signal();
  return 0;
}
