// Fuzz target for the ext_proc message handler: arbitrary sequences of ProcessingRequest messages,
// in any order, fed to one Processor as Envoy would send them on one stream. Each step is an opcode
// byte that builds a message of one kind from the following bytes (so that the fuzzer reaches deep
// sequences quickly), or raw protobuf bytes parsed as a ProcessingRequest. Every message must be
// accepted with a bounded number of answers or refused with an error; nothing may crash or hang,
// and a FULL_DUPLEX_STREAMED decision must re-emit the body exactly.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "extproc/processor.h"
#include "sched/builtin_plugins.h"
#include "sched/picker_config.h"

namespace {

using namespace llmd;
namespace pb = extproc::pb;

struct World {
  World() {
    // Raw messages often carry invalid UTF-8 in string fields: protobuf refuses them and logs each.
    google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
    for (int i = 1; i <= 3; ++i) {
      sched::EndpointSpec spec;
      spec.id = "default/p" + std::to_string(i) + "-rank-0";
      spec.address = "10.0.0." + std::to_string(i);
      spec.port = 8000;
      if (!store.upsert(spec)) std::abort();
    }
    auto plan = sched::load_scheduler_plan("", sched::builtin_registry(), SystemClock::instance());
    if (!plan) std::abort();
    metrics = std::make_unique<epp::EppMetrics>(SystemClock::instance(), "pool", store, 1);
    metrics->bind_plan(*plan);
    scheduler =
        std::make_unique<sched::Scheduler>(std::move(*plan), store, SystemClock::instance(), metrics.get());
    extproc::ProcessorOptions o;
    o.max_body_bytes = 64 * 1024;
    ctx = std::make_unique<extproc::ProcessorContext>(
        extproc::ProcessorContext{*scheduler, store, data, *metrics, SystemClock::instance(), o});
  }
  sched::EndpointStore store;
  datalayer::DataLayer data{store, SystemClock::instance(), {}};
  std::unique_ptr<epp::EppMetrics> metrics;
  std::unique_ptr<sched::Scheduler> scheduler;
  std::unique_ptr<extproc::ProcessorContext> ctx;
};

struct Input {
  const uint8_t* p;
  size_t n;
  uint8_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  std::string bytes(size_t len) {
    len = std::min(len, n);
    std::string s(reinterpret_cast<const char*>(p), len);
    p += len;
    n -= len;
    return s;
  }
};

void add_header(pb::HttpHeaders* h, const std::string& k, const std::string& v) {
  auto* hv = h->mutable_headers()->add_headers();
  hv->set_key(k);
  hv->set_raw_value(v);
}

pb::ProcessingRequest build(uint8_t op, Input& in) {
  pb::ProcessingRequest r;
  const bool eos = (op >> 3) & 1;
  switch (op % 8) {
    case 0: {
      auto* h = r.mutable_request_headers();
      h->set_end_of_stream(eos);
      static const char* const kPaths[] = {"/v1/completions", "/v1/chat/completions", "/v1/embeddings",
                                           "/x?y"};
      add_header(h, ":path", kPaths[in.byte() % 4]);
      if (op & 0x10) add_header(h, "x-request-id", in.bytes(in.byte() % 64));
      const uint8_t mode = in.byte();
      r.mutable_protocol_config()->set_request_body_mode(static_cast<pb::BodySendMode>(mode % 6));
      r.mutable_protocol_config()->set_response_body_mode(static_cast<pb::BodySendMode>((mode / 6) % 6));
      const uint8_t hint = in.byte() % 4;
      if (hint != 0) {
        google::protobuf::Struct s;
        auto& v = (*s.mutable_fields())["x-gateway-destination-endpoint-subset"];
        if (hint == 1) v.mutable_list_value()->add_values()->set_string_value("10.0.0.2:8000");
        if (hint == 2) v.mutable_list_value();
        if (hint == 3) v.set_string_value(in.bytes(in.byte() % 32));
        (*r.mutable_metadata_context()->mutable_filter_metadata())["envoy.lb.subset_hint"] = std::move(s);
      }
      break;
    }
    case 1: {
      std::string body = in.bytes(static_cast<size_t>(in.byte()) * 16);
      // Often a well-formed request, so that scheduling runs.
      if (op & 0x10) body = R"({"model":"m","prompt":")" + std::string(body.size(), 'a') + R"("})";
      r.mutable_request_body()->set_body(std::move(body));
      r.mutable_request_body()->set_end_of_stream(eos);
      break;
    }
    case 2:
      r.mutable_request_trailers();
      break;
    case 3: {
      auto* h = r.mutable_response_headers();
      h->set_end_of_stream(eos);
      add_header(h, ":status", std::to_string(100 + in.byte() * 2));
      add_header(h, "content-type", (op & 0x10) ? "text/event-stream" : "application/json");
      break;
    }
    case 4:
      r.mutable_response_body()->set_body(in.bytes(in.byte()));
      r.mutable_response_body()->set_end_of_stream(eos);
      break;
    case 5:
      r.mutable_response_trailers();
      break;
    case 6:
      break;  // no request set
    case 7: {
      const size_t len = in.byte() | (static_cast<size_t>(in.byte()) << 8);
      const std::string raw = in.bytes(len);
      (void)r.ParseFromString(raw);
      break;
    }
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  extproc::Processor proc(*world.ctx, size, 0);
  Input in{data, size};
  std::string full_body;
  bool full_duplex = true;
  while (in.n > 0) {
    const pb::ProcessingRequest msg = build(in.byte(), in);
    if (msg.has_protocol_config())
      full_duplex = msg.protocol_config().request_body_mode() == pb::FULL_DUPLEX_STREAMED;
    if (msg.has_request_body()) full_body += msg.request_body().body();
    std::vector<pb::ProcessingResponse> out;
    auto r = proc.handle(msg, out);
    if (!r) {
      if (r.error().message.empty()) std::abort();
      break;  // the stream ends here
    }
    // Per message: at most the decision, the re-emitted body in chunks, and a trailers answer.
    if (out.size() > 3 + full_body.size() / extproc::kBodyChunkBytes) std::abort();
    if (full_duplex && !out.empty() && out.front().has_request_headers() && out.size() > 1 &&
        out[1].has_request_body()) {
      std::string rebuilt;
      for (size_t i = 1; i < out.size() && out[i].has_request_body(); ++i)
        rebuilt += out[i].request_body().response().body_mutation().streamed_response().body();
      if (rebuilt != full_body) std::abort();
    }
    if (proc.finished()) break;
  }
  return 0;
}
