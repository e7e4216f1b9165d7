#pragma once
// Per-thread working memory for encoding: regex match state, reusable buffers and the bounded
// word cache. Nothing here is shared, so the encode path takes no locks; buffers keep their
// capacity between calls, so steady-state encoding does not allocate.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"
#include "tokenizer/tokenizer.h"

namespace llmd::tokenizer {

// A direct-mapped cache from a pre-token (word) to its BPE ids. Bounded by its slot count; a new
// word evicts whatever occupied its slot. Words that merge into more than kMaxIds ids are not
// cached (they are long and rare).
class WordCache {
 public:
  static constexpr size_t kMaxIds = 8;

  explicit WordCache(size_t slots);

  // Appends the cached ids for `word` to `out` and returns true on a hit.
  bool lookup(std::string_view word, uint64_t hash, std::vector<uint32_t>& out) {
    if (slots_.empty()) return false;
    Slot& s = slots_[hash & mask_];
    if (s.count != 0 && s.hash == hash && s.key == word) {
      out.insert(out.end(), s.ids, s.ids + s.count);
      ++stats_.hits;
      return true;
    }
    ++stats_.misses;
    return false;
  }

  void store(std::string_view word, uint64_t hash, const uint32_t* ids, size_t n) {
    if (slots_.empty()) return;
    if (n == 0 || n > kMaxIds) {
      ++stats_.uncacheable;
      return;
    }
    Slot& s = slots_[hash & mask_];
    if (s.count != 0) ++stats_.evictions;
    s.hash = hash;
    s.key.assign(word);
    s.count = static_cast<uint8_t>(n);
    for (size_t i = 0; i < n; ++i) s.ids[i] = ids[i];
  }

  void clear();
  const WordCacheStats& stats() const { return stats_; }
  size_t capacity() const { return slots_.size(); }

 private:
  struct Slot {
    uint64_t hash = 0;
    std::string key;
    uint8_t count = 0;
    uint32_t ids[kMaxIds] = {};
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  WordCacheStats stats_;
};

// A byte range of a string plus whether a pattern matched it (HF's find_matches output).
struct Span {
  uint32_t start;
  uint32_t end;
  bool match;
};

// A range of text with an added-token id, or kNoId for ordinary text.
struct Segment {
  uint32_t start;
  uint32_t end;
  uint32_t id;
};

struct BpeSymbol {
  uint32_t id;
  int32_t prev;
  int32_t next;
  uint32_t alive;
};

struct BpeCandidate {
  uint32_t rank;
  uint32_t pos;
  uint32_t new_id;
  uint32_t left;  // the pair's ids when the candidate was made
  uint32_t right;
};

struct EncodeScratch::Impl {
  explicit Impl(size_t cache_slots) : cache(cache_slots) {}

  // Serial number of the tokenizer this scratch was last used with; the cache is only valid for it.
  uint64_t owner = 0;
  RegexScratch regex;
  std::string input;  // lossy-repaired input, when the caller's bytes are not valid UTF-8
  std::string normalized;
  std::string norm_tmp[2];
  std::vector<Segment> raw_segments;
  std::vector<Segment> norm_segments;
  // One level per pre-tokenizer step: buffers for transformed text and the spans of a split.
  struct Level {
    std::string a;
    std::string b;
    std::vector<Span> spans;
    std::vector<Span> merged;
  };
  std::vector<Level> levels;
  std::vector<BpeSymbol> symbols;
  std::vector<BpeCandidate> heap;
  std::string word;
  std::vector<uint32_t> ids;
  WordCache cache;
};

}  // namespace llmd::tokenizer
