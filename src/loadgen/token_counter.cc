#include "loadgen/token_counter.h"

#include <algorithm>
#include <array>
#include <vector>

namespace llmd::loadgen {

namespace {

// Common three-letter English words; with a leading space each is four bytes and, in BPE vocabularies
// trained on English, usually one token.
constexpr std::array<std::string_view, 64> kWords = {
    "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "her", "was", "one",
    "our", "out", "day", "get", "has", "him", "his", "how", "man", "new", "now", "old", "see",
    "two", "way", "who", "boy", "did", "its", "let", "put", "say", "she", "too", "use", "dad",
    "mom", "art", "car", "cat", "dog", "sun", "sea", "sky", "box", "key", "map", "pen", "cup",
    "hat", "bag", "red", "big", "hot", "top", "end", "run", "set", "ask", "own", "why"};

void append_word(std::string& text, Rng& rng) {
  text.push_back(' ');
  text.append(kWords[rng.below(kWords.size())]);
}

}  // namespace

size_t PromptBuilder::append(std::string& text, size_t tokens, Rng& rng) const {
  if (tokens == 0) return 0;
  const size_t base_size = text.size();
  const size_t base = counter_.count(text);
  // Word end offsets, so words can be dropped again when the count overshoots.
  std::vector<size_t> ends;
  ends.reserve(tokens + 8);
  text.reserve(text.size() + tokens * 5);
  auto added = [&] { return counter_.count(text) - base; };
  auto push = [&] {
    append_word(text, rng);
    ends.push_back(text.size());
  };
  auto pop = [&] {
    ends.pop_back();
    text.resize(ends.empty() ? base_size : ends.back());
  };

  // Most tokenizers give about one token per such word: start there, then correct proportionally.
  for (size_t i = 0; i < tokens; ++i) push();
  size_t got = added();
  for (int round = 0; round < 8 && got != tokens && got > 0; ++round) {
    const double words_per_token = static_cast<double>(ends.size()) / static_cast<double>(got);
    const auto want = static_cast<size_t>(std::max(1.0, words_per_token * static_cast<double>(tokens)));
    if (want == ends.size()) break;
    while (ends.size() > want) pop();
    while (ends.size() < want) push();
    got = added();
  }
  // Fine steps, one word at a time and bounded: up while short, then down while over.
  for (int step = 0; step < 256 && got < tokens; ++step) {
    push();
    got = added();
  }
  while (got > tokens && !ends.empty()) {
    pop();
    got = added();
  }
  return got;
}

}  // namespace llmd::loadgen
