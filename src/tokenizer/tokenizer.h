#pragma once
// An in-process tokenizer that reads Hugging Face tokenizer.json files (byte-level BPE and
// SentencePiece-style BPE) and produces exactly the ids the Rust `tokenizers` library produces.
//
// A Tokenizer is immutable after loading and may be shared by any number of threads. Encoding uses
// per-thread scratch memory (an EncodeScratch, or a thread-local one when none is passed), so the
// encode path takes no locks. Input that is not valid UTF-8 is first repaired by replacing each
// maximal ill-formed subsequence with U+FFFD, as a JavaScript or Python caller's string would be.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace llmd::tokenizer {

struct EncodeOptions {
  // Apply the post-processor (BOS/EOS from TemplateProcessing). Added and special tokens written
  // in the text are matched either way, as in Hugging Face tokenizers.
  bool add_special_tokens = true;
};

struct WordCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t evictions = 0;    // a cached word displaced by another (the bound was hit)
  uint64_t uncacheable = 0;  // words whose result was too long to cache
};

// Working memory for encoding on one thread: regex match state, buffers and a bounded per-word
// cache. Not thread-safe; give each thread its own.
class EncodeScratch {
 public:
  static constexpr size_t kDefaultCacheSlots = 16384;
  explicit EncodeScratch(size_t cache_slots = kDefaultCacheSlots);
  ~EncodeScratch();
  EncodeScratch(const EncodeScratch&) = delete;
  EncodeScratch& operator=(const EncodeScratch&) = delete;

  const WordCacheStats& cache_stats() const;

  struct Impl;

 private:
  friend class Tokenizer;
  std::unique_ptr<Impl> impl_;
};

class Tokenizer {
 public:
  // Loads tokenizer.json. Every component is checked at load time; an unsupported one fails
  // with an error naming its path in the file.
  static Result<std::shared_ptr<const Tokenizer>> load(const std::string& path);
  static Result<std::shared_ptr<const Tokenizer>> from_json(std::string_view json_text);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Encodes with the calling thread's scratch memory.
  Result<std::vector<uint32_t>> encode(std::string_view text, const EncodeOptions& options = {}) const;
  // Encodes into `out` (replacing its contents) with caller-provided scratch memory.
  Result<void> encode(std::string_view text, const EncodeOptions& options, EncodeScratch& scratch,
                      std::vector<uint32_t>& out) const;
  // Encodes every text on up to `threads` threads (0: one per hardware thread, at most one per
  // text). Results are in input order.
  Result<std::vector<std::vector<uint32_t>>> encode_batch(std::span<const std::string_view> texts,
                                                          const EncodeOptions& options = {},
                                                          size_t threads = 0) const;

  // Decodes through the configured decoder. Unknown ids are skipped, as in Hugging Face.
  std::string decode(std::span<const uint32_t> ids, bool skip_special_tokens = false) const;

  // Added tokens first, then the model vocabulary.
  std::optional<uint32_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(uint32_t id) const;
  // Vocabulary size; with added tokens, those not already in the model's vocabulary are counted.
  size_t vocab_size(bool with_added_tokens = true) const;
  bool is_special(uint32_t id) const;

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace llmd::tokenizer
