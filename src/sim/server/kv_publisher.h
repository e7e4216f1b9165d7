#pragma once
// Publishes the KV events of every replica of one `llmd sim` process over ZMQ, exactly as vLLM's
// ZmqEventPublisher does: per replica a PUB socket (bound or connected by vLLM's rule) sending
// [topic, 8-byte big-endian seq, msgpack batch], and optionally a ROUTER replay endpoint serving the
// last `buffer_steps` batches from a requested sequence number, then an end marker.
//
// One publisher thread owns every socket. Engine threads hand it encoded batches through an inproc
// PUSH/PULL pair (lock-free inside ZMQ); when that pipe is full the batch is dropped and counted
// rather than stalling the engine. The thread blocks in zmq_poll, so idle replicas cost nothing.

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "kvevents/events.h"

namespace llmd::sim {

struct KvPublisherOptions {
  kvevents::Encoding encoding = kvevents::Encoding::kMap;
  bool replay_legacy = false;    // replay replies without the topic frame (vLLM before PR #45177)
  int hwm = 100'000;             // PUB send high-water mark
  size_t buffer_steps = 10'000;  // batches kept per replica for replay
  int queue_size = 100'000;      // engine → publisher pipe bound, in batches
};

struct KvPublisherEndpoint {
  std::string endpoint;         // PUB: bind if it has '*' or "::" or is ipc/inproc, else connect
  std::string replay_endpoint;  // ROUTER (always bound); empty disables replay
  std::string topic;
};

struct KvPublisherStats {
  uint64_t published = 0;
  uint64_t dropped = 0;  // pipe full
  uint64_t replay_requests = 0;
};

class KvPublisher {
 public:
  KvPublisher(std::vector<KvPublisherEndpoint> endpoints, KvPublisherOptions options);
  ~KvPublisher();
  KvPublisher(const KvPublisher&) = delete;
  KvPublisher& operator=(const KvPublisher&) = delete;

  // Opens every socket (errors: kIo naming the endpoint) and starts the thread.
  Result<void> start();
  // Encodes and hands over one batch. Call only from replica `replica`'s engine thread.
  void publish(size_t replica, const kvevents::EventBatch& batch);
  void stop();
  KvPublisherStats stats() const;

 private:
  void run();
  void forward(std::string_view message);
  void serve_replay(size_t replica);

  std::vector<KvPublisherEndpoint> endpoints_;
  KvPublisherOptions options_;
  void* ctx_ = nullptr;
  void* pull_ = nullptr;
  std::vector<void*> push_;  // one per replica, used by its engine thread only
  std::vector<void*> pub_;
  std::vector<void*> router_;  // null where replay is off
  struct Ring;
  std::vector<Ring> rings_;
  std::thread thread_;
  std::atomic<uint64_t> published_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> replay_requests_{0};
  std::vector<std::string> scratch_;  // per-replica encode buffers, engine threads
};

}  // namespace llmd::sim
