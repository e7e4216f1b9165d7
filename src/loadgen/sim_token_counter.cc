#include "loadgen/sim_token_counter.h"

#include <vector>

namespace llmd::loadgen {

size_t SimTokenCounter::count(std::string_view text) const {
  std::vector<uint32_t> ids;
  tokenizer_.encode(text, ids);
  return ids.size();
}

}  // namespace llmd::loadgen
