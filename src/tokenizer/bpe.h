#pragma once
// The BPE model of tokenizer.json: vocabulary, ranked merges, byte fallback, unknown-token fusing,
// ignore_merges, continuing-subword prefix and end-of-word suffix.
//
// Merging keeps the word's symbols in a doubly linked list and the candidate merges in a binary
// heap ordered by (rank, position), which applies the lowest-ranked merge first and, among equal
// ranks, the leftmost: the same order as Hugging Face. For byte-level vocabularies the model can
// also work on raw bytes (raw mode): each byte starts as the id of its byte-level character, so
// the pre-tokenizer need not build the mapped string, and the cache is keyed by raw bytes.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "common/error.h"
#include "tokenizer/hash_maps.h"
#include "tokenizer/scratch.h"

namespace llmd::tokenizer {

class Bpe {
 public:
  static Result<std::unique_ptr<Bpe>> parse(const boost::json::value& model, const std::string& path);

  // Appends the ids of one pre-token. `raw` says `word` holds raw bytes (see raw mode above).
  Result<void> tokenize(std::string_view word, bool raw, EncodeScratch::Impl& scratch,
                        std::vector<uint32_t>& out) const;

  // Prepares raw mode. Returns false (and stays in text mode) when some byte has no token or a
  // continuing-subword prefix or end-of-word suffix would change the symbols.
  bool enable_raw_mode();
  bool raw_mode() const { return raw_mode_; }

  uint32_t token_to_id(std::string_view token) const { return vocab_.find(token); }
  // nullptr when the id is not in the vocabulary.
  const std::string* id_to_token(uint32_t id) const {
    return id < id_to_token_.size() && has_id_[id] ? &id_to_token_[id] : nullptr;
  }
  size_t vocab_size() const { return vocab_.size(); }

 private:
  Bpe() = default;
  // Builds the initial symbols of a word in text mode; false when the word yields no symbols.
  void initial_symbols_text(std::string_view word, EncodeScratch::Impl& s) const;
  void initial_symbols_raw(std::string_view word, EncodeScratch::Impl& s) const;
  void merge_all(EncodeScratch::Impl& s) const;
  // Whether (a, b) may merge: a cheap filter before the merge-table lookup.
  bool may_merge(uint32_t a, uint32_t b) const {
    return a < merge_left_.size() && b < merge_right_.size() && merge_left_[a] && merge_right_[b];
  }
  const PairMap::Value* find_merge(uint32_t a, uint32_t b) const {
    return may_merge(a, b) ? merges_.find(a, b) : nullptr;
  }
  void build_lookup_tables();

  StringIdMap vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_id_;
  PairMap merges_;
  uint32_t unk_id_ = kNoId;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  std::string prefix_;
  std::string suffix_;
  uint32_t byte_fallback_ids_[256];

  // Ids that occur on the left / right of some merge. Most merge-table lookups miss the cache;
  // these small bitmaps rule many of them out.
  std::vector<bool> merge_left_;
  std::vector<bool> merge_right_;
  // Byte length of each token (what a merge's result must have), for checking stale candidates.
  std::vector<uint32_t> token_bytes_;
  size_t prefix_bytes_ = 0;
  // Single-character tokens of the Basic Multilingual Plane by code point (text mode, no affixes).
  std::vector<uint32_t> bmp_char_ids_;

  bool raw_mode_ = false;
  uint32_t raw_byte_ids_[256];
  StringIdMap raw_vocab_;  // raw bytes -> id, for ignore_merges in raw mode
};

}  // namespace llmd::tokenizer
