#pragma once
// How the load generator measures and builds text in the target's tokens. Lengths in a workload are
// token counts of the model behind the endpoint, so prompts are built with the same tokenizer the
// target uses: a TokenCounter counts, and PromptBuilder appends words until the count is exact.

#include <cstddef>
#include <string>
#include <string_view>

#include "common/random.h"

namespace llmd::loadgen {

// Counts tokens in text. Implementations must be deterministic, and for the builder to hit exact
// lengths, appending a word must never remove tokens.
class TokenCounter {
 public:
  virtual ~TokenCounter() = default;
  virtual std::string_view name() const = 0;
  virtual size_t count(std::string_view text) const = 0;
};

// The simulator's rule of thumb: one token per four bytes of text, rounded up. Used until the
// simulator's pseudo-tokenizer can be linked; PromptBuilder's words are exactly four bytes (" xyz"),
// so any tokenizer that gives one token per short English word counts the same lengths.
class CharsPerTokenCounter final : public TokenCounter {
 public:
  explicit CharsPerTokenCounter(size_t chars_per_token = 4) : chars_per_token_(chars_per_token) {}
  std::string_view name() const override { return "chars-per-token"; }
  size_t count(std::string_view text) const override {
    return (text.size() + chars_per_token_ - 1) / chars_per_token_;
  }

 private:
  size_t chars_per_token_;
};

// Builds English-looking text of an exact token length under a TokenCounter.
class PromptBuilder {
 public:
  explicit PromptBuilder(const TokenCounter& counter) : counter_(counter) {}

  // Appends words to `text` so that count(text) grows by `tokens`. When the tokenizer cannot land on
  // the exact count (merges across words), it stops at the closest count not above the target.
  // Returns the number of tokens added. Deterministic for a given Rng state.
  size_t append(std::string& text, size_t tokens, Rng& rng) const;

  const TokenCounter& counter() const { return counter_; }

 private:
  const TokenCounter& counter_;
};

}  // namespace llmd::loadgen
