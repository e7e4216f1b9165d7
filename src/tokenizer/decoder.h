#pragma once
// Decoders from tokenizer.json: ByteLevel, Metaspace, ByteFallback, Fuse, Strip, Replace, BPEDecoder
// and Sequence. Each rewrites the list of token strings; the tokenizer joins what is left.

#include <memory>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "common/error.h"

namespace llmd::tokenizer {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

Result<std::unique_ptr<Decoder>> parse_decoder(const boost::json::value& v, const std::string& path);

}  // namespace llmd::tokenizer
