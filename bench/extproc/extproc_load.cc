// A gRPC load generator for `llmd epp`: it plays Envoy's FULL_DUPLEX_STREAMED request path, one
// ext_proc stream per request (headers, the body, then read the decision and the re-emitted body,
// then end the stream), and reports decisions per second and the time from the first message to
// the decision.
//   extproc_load --target 127.0.0.1:9002 [--concurrency 8] [--seconds 10] [--rate 0]
//                [--prompt-bytes 32000] [--prefix-groups 100] [--hold 0]
// --rate 0 runs closed-loop (each of --concurrency threads sends its next request when the last one
// is decided); --rate R paces the threads to R requests/s in total (an open loop while the EPP keeps
// up). --hold N instead opens N streams, sends each one's request headers, holds them open for
// --seconds, and prints "held N" (for the EPP's memory per open stream). Prompts share one of
// --prefix-groups prefixes (3/4 of the prompt), as the shared-prefix workloads of `llmd bench` do.
// Output: one JSON object on stdout.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "envoy/service/ext_proc/v3/external_processor.grpc.pb.h"
#include "extproc/testing/envoy_messages.h"

namespace {

namespace pb = envoy::service::ext_proc::v3;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string target = "127.0.0.1:9002";
  int concurrency = 8;
  double seconds = 10;
  double rate = 0;
  size_t prompt_bytes = 32'000;  // about 8k tokens at 4 bytes a token
  int prefix_groups = 100;
  int hold = 0;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--target")
      o.target = v;
    else if (k == "--concurrency")
      o.concurrency = std::max(1, std::atoi(v));
    else if (k == "--seconds")
      o.seconds = std::atof(v);
    else if (k == "--rate")
      o.rate = std::atof(v);
    else if (k == "--prompt-bytes")
      o.prompt_bytes = static_cast<size_t>(std::atoll(v));
    else if (k == "--prefix-groups")
      o.prefix_groups = std::max(1, std::atoi(v));
    else if (k == "--hold")
      o.hold = std::atoi(v);
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      std::exit(2);
    }
  }
  return o;
}

pb::ProcessingRequest headers() { return llmd::extproc::testing::request_headers(); }

// A completion whose prompt is one of `groups` shared prefixes (3/4) and a unique suffix.
std::string body(size_t bytes, uint64_t n, int groups) {
  const size_t prefix = bytes * 3 / 4;
  std::string prompt;
  prompt.reserve(bytes);
  const uint64_t g = n % static_cast<uint64_t>(groups);
  while (prompt.size() < prefix) prompt += "group " + std::to_string(g) + " shared context. ";
  prompt.resize(prefix);
  while (prompt.size() < bytes) prompt += " q" + std::to_string(n);
  prompt.resize(bytes);
  return R"({"model":"m","max_tokens":16,"prompt":")" + prompt + R"("})";
}

int run_hold(pb::ExternalProcessor::Stub& stub, const Options& o) {
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<grpc::ClientContext>> ctxs;
  std::vector<std::unique_ptr<grpc::ClientAsyncReaderWriter<pb::ProcessingRequest, pb::ProcessingResponse>>>
      streams;
  const pb::ProcessingRequest h = headers();
  int held = 0;
  for (int i = 0; i < o.hold; ++i) {
    ctxs.push_back(std::make_unique<grpc::ClientContext>());
    streams.push_back(stub.AsyncProcess(ctxs.back().get(), &cq, reinterpret_cast<void*>(1)));
    void* tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok) || !ok) break;
    streams.back()->Write(h, reinterpret_cast<void*>(2));
    if (!cq.Next(&tag, &ok) || !ok) break;
    ++held;
  }
  std::printf("held %d\n", held);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  for (auto& c : ctxs) c->TryCancel();
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
  return held == o.hold ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  grpc::ChannelArguments args;
  // One connection per thread: a single HTTP/2 connection would serialize on one EPP thread.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (o.hold > 0) {
    auto stub = pb::ExternalProcessor::NewStub(
        grpc::CreateCustomChannel(o.target, grpc::InsecureChannelCredentials(), args));
    return run_hold(*stub, o);
  }
  std::atomic<uint64_t> seq{0};
  std::atomic<uint64_t> errors{0};
  std::vector<std::vector<double>> lat(o.concurrency);
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  std::vector<std::thread> threads;
  for (int t = 0; t < o.concurrency; ++t) {
    threads.emplace_back([&, t] {
      grpc::ChannelArguments a = args;
      a.SetInt("llmd.channel", t);  // distinct arguments: a channel (connection) of its own
      auto stub = pb::ExternalProcessor::NewStub(
          grpc::CreateCustomChannel(o.target, grpc::InsecureChannelCredentials(), a));
      const pb::ProcessingRequest h = headers();
      const auto interval = o.rate > 0 ? std::chrono::duration<double>(o.concurrency / o.rate)
                                       : std::chrono::duration<double>(0);
      auto next = start + std::chrono::duration_cast<Clock::duration>(
                              interval * (static_cast<double>(t) / o.concurrency));
      while (Clock::now() < end) {
        if (o.rate > 0) {
          std::this_thread::sleep_until(next);
          next += std::chrono::duration_cast<Clock::duration>(interval);
        }
        const uint64_t n = seq.fetch_add(1);
        pb::ProcessingRequest b;
        b.mutable_request_body()->set_body(body(o.prompt_bytes, n, o.prefix_groups));
        b.mutable_request_body()->set_end_of_stream(true);
        grpc::ClientContext ctx;
        const auto t0 = Clock::now();
        auto stream = stub->Process(&ctx);
        bool ok = stream->Write(h) && stream->Write(b);
        pb::ProcessingResponse r;
        ok = ok && stream->Read(&r) && r.has_request_headers();
        const auto t1 = Clock::now();
        // The body comes back before the stream can move on, as Envoy would wait for it.
        while (ok) {
          pb::ProcessingResponse c;
          if (!stream->Read(&c)) {
            ok = false;
            break;
          }
          if (c.request_body().response().body_mutation().streamed_response().end_of_stream()) break;
        }
        stream->WritesDone();
        ok = stream->Finish().ok() && ok;
        if (!ok) {
          errors.fetch_add(1);
          continue;
        }
        lat[t].push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      }
    });
  }
  for (auto& th : threads) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  auto q = [&all](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  std::printf(
      "{\"decisions\":%zu,\"errors\":%llu,\"seconds\":%.3f,\"decisions_per_s\":%.1f,\"p50_us\":%.1f,\"p99_"
      "us\":%.1f,"
      "\"concurrency\":%d,\"rate\":%.1f,\"prompt_bytes\":%zu}\n",
      all.size(), static_cast<unsigned long long>(errors.load()), elapsed, all.size() / elapsed, q(0.5),
      q(0.99), o.concurrency, o.rate, o.prompt_bytes);
  return 0;
}
