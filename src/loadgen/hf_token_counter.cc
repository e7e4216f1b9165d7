#include "loadgen/hf_token_counter.h"

namespace llmd::loadgen {

Result<std::unique_ptr<HfTokenCounter>> HfTokenCounter::load(const std::string& path) {
  auto tok = tokenizer::Tokenizer::load(path);
  if (!tok) return tok.error();
  return std::make_unique<HfTokenCounter>(std::move(*tok));
}

size_t HfTokenCounter::count(std::string_view text) const {
  tokenizer::EncodeOptions options;
  options.add_special_tokens = false;
  auto ids = tok_->encode(text, options);
  return ids ? ids->size() : 0;
}

}  // namespace llmd::loadgen
