#pragma once
// Text ↔ token ids for the simulator's HTTP layer: the built-in pseudo-tokenizer, or a Hugging Face
// tokenizer.json given with --tokenizer. Immutable and shared by every replica's worker thread.

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "sim/engine/tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace llmd::sim {

class Codec {
 public:
  // The pseudo-tokenizer.
  Codec();
  explicit Codec(std::shared_ptr<const tokenizer::Tokenizer> hf);

  Result<void> encode(std::string_view text, bool add_special_tokens, std::vector<uint32_t>& out) const;
  void append_text(std::span<const uint32_t> ids, std::string& out) const;
  // Whether `id` decodes (ids outside the vocabulary are a 400 on /detokenize).
  bool valid(uint32_t id) const;
  // The token ids of the simulator's filler text in this vocabulary.
  const std::vector<uint32_t>& filler() const { return filler_; }

 private:
  PseudoTokenizer pseudo_;
  std::shared_ptr<const tokenizer::Tokenizer> hf_;
  std::vector<uint32_t> filler_;
};

}  // namespace llmd::sim
