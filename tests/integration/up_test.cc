// End to end: `llmd up` starts sims and a router as child processes, routes through them, and
// stops them all on SIGINT or when one dies; `llmd demo` runs its two phases on a small workload.

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include <boost/json/parse.hpp>
#include <unistd.h>

#include <gtest/gtest.h>

#include "http/testing/http_call.h"
#include "stack/stack_spec.h"
#include "support/process.h"

namespace llmd::testing {
namespace {

namespace fs = std::filesystem;
using http::testing::http_call;

fs::path temp_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("llmd_up_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

fs::path write(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
  return p;
}

// Waits until the process prints `needle` or exits; the output so far.
std::string wait_for_output(Process& p, const std::string& needle) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < end) {
    std::string out = p.output();
    if (out.find(needle) != std::string::npos || !p.running()) return out;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return p.output();
}

struct Listed {
  uint16_t router_port = 0;
  int router_pid = -1;
  std::vector<uint16_t> sim_ports;
  int sim_pid = -1;           // the last listed
  std::vector<int> sim_pids;  // one per listed replica
};

// No such process (exited and reaped). Checks the process, not its ports: a freed port may be taken
// by another test's server at once.
bool gone(int pid) { return ::kill(pid, 0) == -1 && errno == ESRCH; }

Listed parse_listing(const std::string& out) {
  Listed l;
  std::smatch m;
  const std::regex router(R"(router\s+http://127\.0\.0\.1:(\d+)\s+admin \S+\s+pid (\d+))");
  if (std::regex_search(out, m, router)) {
    l.router_port = static_cast<uint16_t>(std::stoi(m[1]));
    l.router_pid = std::stoi(m[2]);
  }
  const std::regex sim(R"(sim\s+http://127\.0\.0\.1:(\d+)\s+replica \d+\s+pid (\d+))");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), sim); it != std::sregex_iterator(); ++it) {
    l.sim_ports.push_back(static_cast<uint16_t>(std::stoi((*it)[1])));
    l.sim_pid = std::stoi((*it)[2]);
    l.sim_pids.push_back(l.sim_pid);
  }
  return l;
}

constexpr const char* kStack = R"(log_level: warn
sims:
  - name: pool
    replicas: 2
    profile: instant
routers:
  - name: gw
    endpoints: [pool]
)";

const std::string kCompletion = R"({"model":"sim-instant","prompt":"hello there","max_tokens":3})";

TEST(LlmdUp, StartsRoutesAndStopsEverythingOnSigint) {
  const fs::path dir = temp_dir("sigint");
  auto up = spawn_llmd({"up", "-f", write(dir / "stack.yaml", kStack).string()});
  const std::string out = wait_for_output(up, "Ctrl-C stops the stack");
  ASSERT_NE(out.find("llmd up: ready"), std::string::npos) << out;
  const Listed l = parse_listing(out);
  ASSERT_NE(l.router_port, 0) << out;
  ASSERT_EQ(l.sim_ports.size(), 2u) << out;

  auto reply = http_call(l.router_port, "POST", "/v1/completions", kCompletion,
                         {{"content-type", "application/json"}});
  EXPECT_EQ(reply.status, 200) << reply.body << reply.error;
  EXPECT_NE(reply.body.find("\"choices\""), std::string::npos) << reply.body;
  for (uint16_t p : l.sim_ports) EXPECT_EQ(http_call(p, "GET", "/health").status, 200);

  ASSERT_TRUE(up.signal(SIGINT));
  EXPECT_EQ(up.wait(std::chrono::seconds(30)), 0) << up.output();
  // Every child was reaped before `llmd up` returned.
  EXPECT_TRUE(gone(l.router_pid)) << l.router_pid;
  for (int pid : l.sim_pids) EXPECT_TRUE(gone(pid)) << pid;
  fs::remove_all(dir);
}

TEST(LlmdUp, StopsTheStackWhenAComponentDies) {
  const fs::path dir = temp_dir("death");
  auto up = spawn_llmd({"up", "-f", write(dir / "stack.yaml", kStack).string()});
  const std::string out = wait_for_output(up, "Ctrl-C stops the stack");
  const Listed l = parse_listing(out);
  ASSERT_GT(l.sim_pid, 0) << out;
  ASSERT_GT(l.router_pid, 0) << out;
  ASSERT_EQ(::kill(l.sim_pid, SIGKILL), 0);
  EXPECT_EQ(up.wait(std::chrono::seconds(30)), 1) << up.output();
  EXPECT_NE(up.output().find("pool was killed by signal 9; stopping the stack"), std::string::npos)
      << up.output();
  EXPECT_TRUE(gone(l.router_pid)) << l.router_pid;
  fs::remove_all(dir);
}

TEST(LlmdUp, ReportsAComponentThatCannotStart) {
  const fs::path dir = temp_dir("nostart");
  auto up = spawn_llmd(
      {"up", "-f", write(dir / "stack.yaml", "sims: [{name: broken, profile: no-such-profile}]\n").string(),
       "--log-dir", dir.string()});
  EXPECT_EQ(up.wait(std::chrono::seconds(30)), 1) << up.output();
  EXPECT_NE(up.output().find("broken exited with status"), std::string::npos) << up.output();
  EXPECT_NE(up.output().find("before it was ready"), std::string::npos) << up.output();
  // With --log-dir the child's own complaint is in its log file.
  EXPECT_NE(read_file(dir / "broken.log").find("no-such-profile"), std::string::npos)
      << read_file(dir / "broken.log");
  fs::remove_all(dir);
}

TEST(LlmdUp, RejectsABadStackFileNamingThePath) {
  const fs::path dir = temp_dir("bad");
  auto up = spawn_llmd({"up", "-f", write(dir / "stack.yaml", "sims: [{name: a, replicas: 0}]\n").string()});
  EXPECT_EQ(up.wait(std::chrono::seconds(30)), 2) << up.output();
  EXPECT_NE(up.output().find("sims[0].replicas: must be at least 1"), std::string::npos) << up.output();
  fs::remove_all(dir);
}

TEST(LlmdUp, ExampleStackFilesAreValid) {
  int stacks = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(source_dir()) / "examples")) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".yaml" || name.starts_with("epp-")) continue;
    auto spec = stack::load_stack_spec(entry.path().string());
    ASSERT_TRUE(spec) << name << ": " << spec.error().message;
    for (const auto& r : spec->routers) {
      if (!r.config_file.empty()) {
        EXPECT_TRUE(fs::exists(r.config_file)) << name << ": " << r.config_file;
      }
    }
    ++stacks;
  }
  EXPECT_GE(stacks, 3);
}

TEST(LlmdDemo, RunsBothPhasesAndWritesReports) {
  const fs::path dir = temp_dir("demo");
  auto demo = spawn_llmd({"demo",       "--out",
                          dir.string(), "--profile",
                          "instant",    "--replicas",
                          "2",          "--num-gpu-blocks",
                          "512",        "--num-groups",
                          "3",          "--prompts-per-group",
                          "2",          "--system-prompt-len",
                          "256",        "--question-len",
                          "16",         "--output-len",
                          "8",          "--rate",
                          "50",         "--progress",
                          "off"});
  ASSERT_EQ(demo.wait(std::chrono::seconds(120)), 0) << demo.output();
  const std::string out = demo.output();
  EXPECT_NE(out.find("round-robin"), std::string::npos) << out;
  EXPECT_NE(out.find("llm-d default"), std::string::npos) << out;
  EXPECT_NE(out.find("TTFT p90 (ms)"), std::string::npos) << out;
  EXPECT_NE(out.find("Requests ok / errors"), std::string::npos) << out;
  for (const char* name : {"round-robin.json", "llmd-default.json"}) {
    auto report = boost::json::parse(read_file(dir / name));
    const auto& agg = report.at("results").at("request_performance").at("aggregate");
    EXPECT_EQ(agg.at("requests").at("total").to_number<int64_t>(), 6) << name;
    EXPECT_EQ(agg.at("requests").at("failures").to_number<int64_t>(), 0) << name;
  }
  const std::string html = read_file(dir / "report.html");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("llm-d default"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "logs" / "round-robin" / "sim.log"));
  fs::remove_all(dir);
}

TEST(LlmdDemo, CtrlCStopsTheRunWithoutStartingTheNextPhase) {
  const fs::path dir = temp_dir("demo_int");
  auto demo = spawn_llmd(
      {"demo", "--out",          dir.string(), "--profile",           "instant", "--replicas",
       "2",    "--num-groups",   "50",         "--prompts-per-group", "10",      "--system-prompt-len",
       "64",   "--question-len", "8",          "--output-len",        "4",       "--rate",
       "5",    "--warmup-rate",  "50",         "--progress",          "off"});
  const std::string out = wait_for_output(demo, "== round-robin: sending");
  ASSERT_NE(out.find("== round-robin: sending"), std::string::npos) << out;
  ASSERT_TRUE(demo.signal(SIGINT));
  EXPECT_EQ(demo.wait(std::chrono::seconds(60)), 1) << demo.output();
  EXPECT_NE(demo.output().find("interrupted"), std::string::npos) << demo.output();
  EXPECT_EQ(demo.output().find("llm-d default: starting"), std::string::npos) << demo.output();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace llmd::testing
