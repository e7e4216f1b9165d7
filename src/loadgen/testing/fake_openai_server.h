#pragma once
// Test support: an in-process OpenAI-compatible server with exactly known behaviour, for the
// runner's tests and the bench integration tests. It answers /v1/completions and
// /v1/chat/completions with `max_tokens` one-token chunks (or one JSON body when not streaming),
// reports usage with prompt_tokens = body bytes / 4 and cached_tokens = kCachedTokens, and lets a
// request header pick a failure:
//   x-fake-status: 429        -> that HTTP status with an OpenAI error body
//   x-fake-mode: stream-error -> an error event after the first token
//   x-fake-mode: truncate     -> the stream ends after the first token without [DONE]
//   x-fake-delay-ms: 50       -> waits before answering

#include <cstdint>
#include <memory>

#include "common/error.h"

namespace llmd::loadgen::testing {

inline constexpr uint32_t kCachedTokens = 7;

class FakeOpenAiServer {
 public:
  explicit FakeOpenAiServer(unsigned threads = 1);
  ~FakeOpenAiServer();
  Result<void> start();
  uint16_t port() const;
  // Requests answered so far (all threads).
  uint64_t requests() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmd::loadgen::testing
