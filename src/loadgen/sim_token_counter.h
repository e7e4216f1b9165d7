#pragma once
// TokenCounter over the simulator's pseudo-tokenizer (sim/engine/tokenizer.h): the default, so
// workload lengths are exactly the token counts `llmd sim` sees for completions prompts.

#include <string_view>

#include "loadgen/token_counter.h"
#include "sim/engine/tokenizer.h"

namespace llmd::loadgen {

class SimTokenCounter final : public TokenCounter {
 public:
  std::string_view name() const override { return "llmd-sim-pseudo"; }
  size_t count(std::string_view text) const override;

 private:
  sim::PseudoTokenizer tokenizer_;
};

}  // namespace llmd::loadgen
