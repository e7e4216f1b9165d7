#include "sim/server/kv_publisher.h"

#include <cerrno>
#include <cstring>
#include <deque>

#include <zmq.h>

#include "kvevents/wire.h"

namespace llmd::sim {

struct KvPublisher::Ring {
  uint64_t next_seq = 0;
  std::deque<std::pair<uint64_t, std::string>> batches;
};

namespace {

Error zmq_failure(std::string_view what, std::string_view endpoint) {
  return make_error(ErrorCode::kIo,
                    std::string(what) + " " + std::string(endpoint) + ": " + zmq_strerror(zmq_errno()));
}

bool send_frame(void* sock, std::string_view data, bool more) {
  const int flags = ZMQ_DONTWAIT | (more ? ZMQ_SNDMORE : 0);
  return zmq_send(sock, data.data(), data.size(), flags) >= 0;
}

}  // namespace

KvPublisher::KvPublisher(std::vector<KvPublisherEndpoint> endpoints, KvPublisherOptions options)
    : endpoints_(std::move(endpoints)),
      options_(options),
      rings_(endpoints_.size()),
      scratch_(endpoints_.size()) {}

KvPublisher::~KvPublisher() {
  stop();
  auto close = [](void*& s) {
    if (s != nullptr) zmq_close(s);
    s = nullptr;
  };
  for (auto& s : push_) close(s);
  if (!thread_.joinable()) {
    // The thread closes the sockets it owns; if it never ran they are closed here.
    close(pull_);
    for (auto& s : pub_) close(s);
    for (auto& s : router_) close(s);
  }
  if (ctx_ != nullptr) zmq_ctx_term(ctx_);
}

Result<void> KvPublisher::start() {
  ctx_ = zmq_ctx_new();
  if (ctx_ == nullptr) return make_error(ErrorCode::kIo, "zmq_ctx_new failed");
  const std::string pipe = "inproc://llmd-sim-kv-events";
  pull_ = zmq_socket(ctx_, ZMQ_PULL);
  int hwm = options_.queue_size;
  int linger = 0;
  zmq_setsockopt(pull_, ZMQ_RCVHWM, &hwm, sizeof hwm);
  zmq_setsockopt(pull_, ZMQ_LINGER, &linger, sizeof linger);
  if (zmq_bind(pull_, pipe.c_str()) != 0) return zmq_failure("bind", pipe);
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    void* push = zmq_socket(ctx_, ZMQ_PUSH);
    zmq_setsockopt(push, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
    push_.push_back(push);
    if (zmq_connect(push, pipe.c_str()) != 0) return zmq_failure("connect", pipe);

    const auto& ep = endpoints_[i];
    void* pub = zmq_socket(ctx_, ZMQ_PUB);
    pub_.push_back(pub);
    int pub_hwm = options_.hwm;
    zmq_setsockopt(pub, ZMQ_SNDHWM, &pub_hwm, sizeof pub_hwm);
    zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger);
    const bool bind = kvevents::endpoint_binds(ep.endpoint);
    if ((bind ? zmq_bind(pub, ep.endpoint.c_str()) : zmq_connect(pub, ep.endpoint.c_str())) != 0) {
      return zmq_failure(bind ? "bind" : "connect", ep.endpoint);
    }
    void* router = nullptr;
    if (!ep.replay_endpoint.empty()) {
      router = zmq_socket(ctx_, ZMQ_ROUTER);
      zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
      if (zmq_bind(router, ep.replay_endpoint.c_str()) != 0) {
        router_.push_back(router);
        return zmq_failure("bind", ep.replay_endpoint);
      }
    }
    router_.push_back(router);
  }
  thread_ = std::thread([this] { run(); });
  return {};
}

void KvPublisher::stop() {
  if (ctx_ != nullptr && thread_.joinable()) {
    zmq_ctx_shutdown(ctx_);  // the thread's zmq_poll returns ETERM
    thread_.join();
  }
}

KvPublisherStats KvPublisher::stats() const {
  return KvPublisherStats{published_.load(std::memory_order_relaxed),
                          dropped_.load(std::memory_order_relaxed),
                          replay_requests_.load(std::memory_order_relaxed)};
}

void KvPublisher::publish(size_t replica, const kvevents::EventBatch& batch) {
  if (replica >= push_.size()) return;
  std::string& buf = scratch_[replica];
  buf.clear();
  const uint32_t idx = static_cast<uint32_t>(replica);
  buf.append(reinterpret_cast<const char*>(&idx), sizeof idx);
  kvevents::encode_batch(batch, options_.encoding, buf);
  if (zmq_send(push_[replica], buf.data(), buf.size(), ZMQ_DONTWAIT) < 0) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
  }
}

void KvPublisher::forward(std::string_view message) {
  if (message.size() < sizeof(uint32_t)) return;
  uint32_t idx = 0;
  std::memcpy(&idx, message.data(), sizeof idx);
  if (idx >= pub_.size()) return;
  const std::string_view payload = message.substr(sizeof idx);
  Ring& ring = rings_[idx];
  const uint64_t seq = ring.next_seq++;
  const std::string seq_frame = kvevents::encode_seq(seq);
  // PUB never blocks: above its high-water mark ZMQ drops, as it does for vLLM.
  send_frame(pub_[idx], endpoints_[idx].topic, true);
  send_frame(pub_[idx], seq_frame, true);
  send_frame(pub_[idx], payload, false);
  published_.fetch_add(1, std::memory_order_relaxed);
  if (router_[idx] != nullptr && options_.buffer_steps > 0) {
    ring.batches.emplace_back(seq, std::string(payload));
    while (ring.batches.size() > options_.buffer_steps) ring.batches.pop_front();
  }
}

void KvPublisher::serve_replay(size_t replica) {
  void* router = router_[replica];
  // Read one multipart request: [identity, ("",) start_seq].
  std::vector<std::string> frames;
  while (true) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, router, ZMQ_DONTWAIT) < 0) {
      zmq_msg_close(&msg);
      return;
    }
    if (frames.size() < 8)
      frames.emplace_back(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
    const bool more = zmq_msg_more(&msg) != 0;
    zmq_msg_close(&msg);
    if (!more) break;
  }
  if (frames.size() < 2) return;
  replay_requests_.fetch_add(1, std::memory_order_relaxed);
  size_t i = 1;
  if (frames[i].empty() && i + 1 < frames.size()) ++i;
  const auto start = kvevents::decode_seq(frames[i]);
  if (!start) return;
  const std::string& identity = frames[0];
  const std::string& topic = endpoints_[replica].topic;
  const bool legacy = options_.replay_legacy;
  auto reply = [&](std::string_view seq_frame, std::string_view payload) {
    send_frame(router, identity, true);
    send_frame(router, "", true);
    if (!legacy) send_frame(router, topic, true);
    send_frame(router, seq_frame, true);
    send_frame(router, payload, false);
  };
  for (const auto& [seq, payload] : rings_[replica].batches) {
    if (seq >= *start) reply(kvevents::encode_seq(seq), payload);
  }
  reply(kvevents::encode_seq(kvevents::kReplayEndSeq), "");
}

void KvPublisher::run() {
  std::vector<zmq_pollitem_t> items;
  std::vector<size_t> replica_of;
  items.push_back(zmq_pollitem_t{pull_, 0, ZMQ_POLLIN, 0});
  replica_of.push_back(0);
  for (size_t i = 0; i < router_.size(); ++i) {
    if (router_[i] == nullptr) continue;
    items.push_back(zmq_pollitem_t{router_[i], 0, ZMQ_POLLIN, 0});
    replica_of.push_back(i);
  }
  zmq_msg_t msg;
  while (true) {
    const int rc = zmq_poll(items.data(), static_cast<int>(items.size()), -1);
    if (rc < 0) {
      if (zmq_errno() == EINTR) continue;
      break;  // ETERM: stop() shut the context down
    }
    if (items[0].revents & ZMQ_POLLIN) {
      // Drain the pipe, so one poll wakeup serves a burst of batches.
      for (int n = 0; n < 1024; ++n) {
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, pull_, ZMQ_DONTWAIT) < 0) {
          zmq_msg_close(&msg);
          break;
        }
        forward(std::string_view(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg)));
        zmq_msg_close(&msg);
      }
    }
    for (size_t k = 1; k < items.size(); ++k) {
      if (items[k].revents & ZMQ_POLLIN) serve_replay(replica_of[k]);
    }
  }
  zmq_close(pull_);
  pull_ = nullptr;
  for (auto& s : pub_) {
    zmq_close(s);
    s = nullptr;
  }
  for (auto& s : router_) {
    if (s != nullptr) zmq_close(s);
    s = nullptr;
  }
}

}  // namespace llmd::sim
