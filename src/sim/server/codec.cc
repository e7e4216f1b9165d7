#include "sim/server/codec.h"

namespace llmd::sim {

Codec::Codec() : filler_(filler_tokens()) {}

Codec::Codec(std::shared_ptr<const tokenizer::Tokenizer> hf) : hf_(std::move(hf)) {
  const std::string text = pseudo_.decode(filler_tokens());
  tokenizer::EncodeOptions opts;
  opts.add_special_tokens = false;
  auto ids = hf_->encode(text, opts);
  if (ids && !ids->empty()) {
    filler_ = std::move(*ids);
  } else {
    filler_ = {0};
  }
}

Result<void> Codec::encode(std::string_view text, bool add_special_tokens, std::vector<uint32_t>& out) const {
  if (hf_ == nullptr) {
    pseudo_.encode(text, out);
    return {};
  }
  tokenizer::EncodeOptions opts;
  opts.add_special_tokens = add_special_tokens;
  auto ids = hf_->encode(text, opts);
  if (!ids) return ids.error();
  out.insert(out.end(), ids->begin(), ids->end());
  return {};
}

void Codec::append_text(std::span<const uint32_t> ids, std::string& out) const {
  if (hf_ == nullptr) {
    for (uint32_t id : ids) pseudo_.append_token(id, out);
    return;
  }
  out += hf_->decode(ids);
}

bool Codec::valid(uint32_t id) const {
  if (hf_ == nullptr) return PseudoTokenizer::valid(id);
  return id < hf_->vocab_size(true);
}

}  // namespace llmd::sim
