#pragma once
// TokenCounter over a Hugging Face tokenizer.json (llmd::tokenizer), for benchmarking a real model
// server: workload lengths are then that model's tokens. Special tokens the server adds (BOS, the
// chat template) are not counted; the server's usage.prompt_tokens reports them.

#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "loadgen/token_counter.h"
#include "tokenizer/tokenizer.h"

namespace llmd::loadgen {

class HfTokenCounter final : public TokenCounter {
 public:
  static Result<std::unique_ptr<HfTokenCounter>> load(const std::string& path);
  explicit HfTokenCounter(std::shared_ptr<const tokenizer::Tokenizer> tok) : tok_(std::move(tok)) {}
  std::string_view name() const override { return "hf-tokenizer"; }
  // Text the tokenizer rejects counts as 0 tokens (PromptBuilder's words never are rejected).
  size_t count(std::string_view text) const override;

 private:
  std::shared_ptr<const tokenizer::Tokenizer> tok_;
};

}  // namespace llmd::loadgen
