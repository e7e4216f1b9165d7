#pragma once
// Pre-tokenizers from tokenizer.json: Split (regex or literal), ByteLevel, Metaspace, Digits,
// Whitespace, WhitespaceSplit, Punctuation and Sequence. Sequences are flattened into a list of
// steps; each step splits (and maybe rewrites) a piece and hands the results to the next step,
// depth first, so no list of pieces is ever materialized.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "common/error.h"
#include "tokenizer/function_ref.h"
#include "tokenizer/scratch.h"

namespace llmd::tokenizer {

struct Piece {
  std::string_view text;
  // The piece starts where the original input starts (Metaspace's prepend_scheme "first").
  bool at_origin = false;
  // The text still has to go through the byte-to-unicode mapping: ByteLevel was the last step
  // and left the mapping to a model that works on raw bytes.
  bool raw_bytes = false;
};

using PieceSink = FunctionRef<Result<void>(Piece)>;

class PreTokenizerStep {
 public:
  virtual ~PreTokenizerStep() = default;
  // `level` indexes the scratch buffers this step may use (scratch.levels must already hold one per
  // step: resizing during a run would move buffers that pieces point into).
  virtual Result<void> run(Piece in, EncodeScratch::Impl& scratch, size_t level, PieceSink emit) const = 0;
};

// Appends the steps of the "pre_tokenizer" object at `path` (Sequences flattened) to `out`.
Result<void> parse_pre_tokenizer(const boost::json::value& v, const std::string& path,
                                 std::vector<std::unique_ptr<PreTokenizerStep>>& out);

bool is_byte_level_step(const PreTokenizerStep& step);
// If `step` is ByteLevel, lets it hand raw bytes to the model instead of mapped text.
bool set_byte_level_raw_output(PreTokenizerStep& step);

// Runs steps[i..] on `piece`, then `sink` on each final piece.
Result<void> run_pre_tokenizers(const std::vector<std::unique_ptr<PreTokenizerStep>>& steps, size_t i,
                                Piece piece, EncodeScratch::Impl& scratch, PieceSink sink);

// The GPT-2 byte-to-unicode table: the UTF-8 encoding of the character standing for each byte.
struct ByteLevelTable {
  std::string_view chars[256];
  // Maps a code point back to its byte, or -1.
  int byte_of(uint32_t cp) const;

  static const ByteLevelTable& get();

 private:
  ByteLevelTable();
  char storage_[256][4];
  int16_t reverse_[324];
};

}  // namespace llmd::tokenizer
