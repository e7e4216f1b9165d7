// The floor for `llmd epp`'s throughput on this machine: an ext_proc server that does the same gRPC
// exchanges with no work in between. Each stream reads the request headers and body, answers with a
// fixed x-gateway-destination-endpoint and the body echoed in one chunk, and ends when the client
// does, on the same callback API and message types as llmd epp.
//   extproc_floor PORT

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "envoy/service/ext_proc/v3/external_processor.grpc.pb.h"

namespace {

namespace pb = envoy::service::ext_proc::v3;

struct Stream final : grpc::ServerBidiReactor<pb::ProcessingRequest, pb::ProcessingResponse> {
  Stream() { StartRead(&in); }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    if (in.has_request_body() && in.request_body().end_of_stream()) {
      auto* h = out[0].mutable_request_headers()->mutable_response();
      auto* hv = h->mutable_header_mutation()->add_set_headers()->mutable_header();
      hv->set_key("x-gateway-destination-endpoint");
      hv->set_raw_value("10.0.0.1:8000");
      h->set_clear_route_cache(true);
      auto* sb = out[1]
                     .mutable_request_body()
                     ->mutable_response()
                     ->mutable_body_mutation()
                     ->mutable_streamed_response();
      sb->set_body(std::move(*in.mutable_request_body()->mutable_body()));
      sb->set_end_of_stream(true);
      next = 0;
      StartWrite(&out[0]);
      return;
    }
    StartRead(&in);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    if (++next < 2) {
      StartWrite(&out[next]);
      return;
    }
    StartRead(&in);
  }
  void OnDone() override { delete this; }
  pb::ProcessingRequest in;
  pb::ProcessingResponse out[2];
  int next = 0;
};

struct Service final : pb::ExternalProcessor::CallbackService {
  grpc::ServerBidiReactor<pb::ProcessingRequest, pb::ProcessingResponse>* Process(
      grpc::CallbackServerContext*) override {
    return new Stream();
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: extproc_floor PORT\n");
    return 2;
  }
  Service service;
  grpc::ServerBuilder b;
  b.AddListeningPort(std::string("127.0.0.1:") + argv[1], grpc::InsecureServerCredentials());
  b.RegisterService(&service);
  auto server = b.BuildAndStart();
  if (!server) return 1;
  server->Wait();
}
