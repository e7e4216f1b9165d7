#pragma once
// Added and special tokens: matched in the text before the model runs, leftmost-longest, honouring
// single_word, lstrip, rstrip and normalized, with Hugging Face's id assignment.

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/scratch.h"

namespace llmd::tokenizer {

struct AddedToken {
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;

  bool operator==(const AddedToken&) const = default;
};

// A byte trie over token contents that finds non-overlapping leftmost-longest matches.
class TokenTrie {
 public:
  void build(const std::vector<std::pair<std::string, uint32_t>>& patterns);

  // Calls f(start, end, value) for each match, left to right.
  template <class F>
  void find_iter(std::string_view s, F&& f) const {
    if (nodes_.empty()) return;
    size_t i = 0;
    const size_t n = s.size();
    while (i < n) {
      uint32_t node = root_[static_cast<unsigned char>(s[i])];
      if (node == kNone) {
        ++i;
        continue;
      }
      size_t best_end = 0;
      uint32_t best_value = kNone;
      size_t j = i + 1;
      while (true) {
        if (nodes_[node].value != kNone) {
          best_end = j;
          best_value = nodes_[node].value;
        }
        if (j >= n) break;
        node = child(node, static_cast<unsigned char>(s[j]));
        if (node == kNone) break;
        ++j;
      }
      if (best_value != kNone) {
        f(i, best_end, best_value);
        i = best_end;
      } else {
        ++i;
      }
    }
  }

 private:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  struct Node {
    uint32_t first_edge = 0;
    uint32_t edge_count = 0;
    uint32_t value = kNone;
  };
  struct Edge {
    unsigned char byte;
    uint32_t child;
  };
  uint32_t child(uint32_t node, unsigned char b) const {
    const Node& nd = nodes_[node];
    for (uint32_t e = nd.first_edge; e < nd.first_edge + nd.edge_count; ++e) {
      if (edges_[e].byte == b) return edges_[e].child;
    }
    return kNone;
  }

  uint32_t root_[256];
  std::vector<Node> nodes_;
  std::vector<Edge> edges_;
};

class AddedVocabulary {
 public:
  // Registers a token as Hugging Face's add_tokens does; returns the id it received.
  uint32_t add(const AddedToken& token, const Bpe& model);

  // Builds the matchers once every token is added. Normalized tokens are matched by their
  // normalized content.
  Result<void> build(const Bpe& model, const Normalizer* normalizer, NormalizeScratch& scratch);

  // Splits `s` into added-token matches and the text between them (HF's find_matches).
  void find_matches(std::string_view s, bool normalized, std::vector<Segment>& out) const;

  bool empty() const { return contents_.empty(); }
  uint32_t token_to_id(std::string_view content) const;
  // nullptr when the id is not an added token.
  const AddedToken* token_for_id(uint32_t id) const;
  bool is_special_id(uint32_t id) const { return special_ids_.count(id) != 0; }
  // Number of added contents that the model's vocabulary does not already hold.
  size_t count_outside(const Bpe& model) const;

 private:
  void find_in(const TokenTrie& trie, std::string_view s, std::vector<Segment>& out) const;

  std::unordered_map<std::string, uint32_t> contents_;  // content -> id
  std::unordered_map<uint32_t, AddedToken> by_id_;
  std::vector<AddedToken> special_tokens_;
  std::unordered_set<std::string> special_set_;
  std::vector<AddedToken> classic_tokens_;
  std::unordered_set<uint32_t> special_ids_;
  TokenTrie raw_trie_;
  TokenTrie normalized_trie_;
  uint32_t max_added_id_ = 0;
  bool has_raw_ = false;
  bool has_normalized_ = false;
};

}  // namespace llmd::tokenizer
