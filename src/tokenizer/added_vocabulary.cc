#include "tokenizer/added_vocabulary.h"

#include <algorithm>
#include <map>

#include "tokenizer/unicode.h"

namespace llmd::tokenizer {

void TokenTrie::build(const std::vector<std::pair<std::string, uint32_t>>& patterns) {
  std::fill(std::begin(root_), std::end(root_), kNone);
  nodes_.clear();
  edges_.clear();
  if (patterns.empty()) return;
  // Build with ordered maps, then flatten into contiguous edge lists.
  std::vector<std::map<unsigned char, uint32_t>> children(1);
  std::vector<uint32_t> values(1, kNone);
  for (const auto& [text, value] : patterns) {
    if (text.empty()) continue;
    uint32_t node = 0;
    for (char c : text) {
      const auto b = static_cast<unsigned char>(c);
      auto it = children[node].find(b);
      if (it == children[node].end()) {
        const auto next = static_cast<uint32_t>(children.size());
        children[node].emplace(b, next);
        children.emplace_back();
        values.push_back(kNone);
        node = next;
      } else {
        node = it->second;
      }
    }
    // The first pattern with a given content wins, as in the aho-corasick automaton.
    if (values[node] == kNone) values[node] = value;
  }
  nodes_.resize(children.size());
  for (size_t n = 0; n < children.size(); ++n) {
    nodes_[n].first_edge = static_cast<uint32_t>(edges_.size());
    nodes_[n].edge_count = static_cast<uint32_t>(children[n].size());
    nodes_[n].value = values[n];
    for (const auto& [b, c] : children[n]) edges_.push_back({b, c});
  }
  for (const auto& [b, c] : children[0]) root_[b] = c;
}

uint32_t AddedVocabulary::add(const AddedToken& token, const Bpe& model) {
  if (token.special && !token.content.empty() && special_set_.insert(token.content).second) {
    special_tokens_.push_back(token);
  }
  if (token.content.empty()) return kNoId;
  // An identical token is ignored. Only a known content can have an identical token.
  if (contents_.count(token.content) != 0) {
    for (const auto& [id, existing] : by_id_) {
      if (existing == token) return id;
    }
  }
  uint32_t id = token_to_id(token.content);
  if (id == kNoId) id = model.token_to_id(token.content);
  if (id == kNoId) {
    const auto vocab_size = static_cast<uint32_t>(model.vocab_size());
    if (by_id_.empty()) {
      id = vocab_size;
    } else {
      id = (max_added_id_ >= vocab_size || vocab_size == 0) ? max_added_id_ + 1 : vocab_size;
    }
  }
  contents_[token.content] = id;
  by_id_[id] = token;
  max_added_id_ = std::max(max_added_id_, id);
  if (special_set_.count(token.content) == 0) classic_tokens_.push_back(token);
  return id;
}

Result<void> AddedVocabulary::build(const Bpe& model, const Normalizer* normalizer,
                                    NormalizeScratch& scratch) {
  std::vector<std::pair<std::string, uint32_t>> raw, normalized;
  auto add_pattern = [&](const AddedToken& t) -> Result<void> {
    uint32_t id = token_to_id(t.content);
    if (id == kNoId) id = model.token_to_id(t.content);
    if (id == kNoId) return {};
    if (!t.normalized) {
      raw.emplace_back(t.content, id);
      return {};
    }
    std::string content = t.content;
    if (normalizer != nullptr) {
      std::string out;
      auto r = normalizer->normalize(t.content, out, scratch);
      if (!r) return r;
      content = std::move(out);
    }
    normalized.emplace_back(std::move(content), id);
    return {};
  };
  for (const auto& t : special_tokens_) {
    auto r = add_pattern(t);
    if (!r) return r;
  }
  for (const auto& t : classic_tokens_) {
    auto r = add_pattern(t);
    if (!r) return r;
  }
  raw_trie_.build(raw);
  normalized_trie_.build(normalized);
  has_raw_ = !raw.empty();
  has_normalized_ = !normalized.empty();
  special_ids_.clear();
  for (const auto& content : special_set_) {
    uint32_t id = token_to_id(content);
    if (id == kNoId) id = model.token_to_id(content);
    if (id != kNoId) special_ids_.insert(id);
  }
  return {};
}

uint32_t AddedVocabulary::token_to_id(std::string_view content) const {
  auto it = contents_.find(std::string(content));
  return it == contents_.end() ? kNoId : it->second;
}

const AddedToken* AddedVocabulary::token_for_id(uint32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second;
}

size_t AddedVocabulary::count_outside(const Bpe& model) const {
  size_t n = 0;
  for (const auto& [content, id] : contents_) {
    if (model.token_to_id(content) == kNoId) ++n;
  }
  return n;
}

void AddedVocabulary::find_matches(std::string_view s, bool normalized, std::vector<Segment>& out) const {
  out.clear();
  if ((normalized && !has_normalized_) || (!normalized && !has_raw_)) {
    if (!s.empty()) out.push_back({0, static_cast<uint32_t>(s.size()), kNoId});
    return;
  }
  find_in(normalized ? normalized_trie_ : raw_trie_, s, out);
}

void AddedVocabulary::find_in(const TokenTrie& trie, std::string_view s, std::vector<Segment>& out) const {
  size_t start_offset = 0;
  trie.find_iter(s, [&](size_t mstart, size_t mend, uint32_t id) {
    const AddedToken* tok = token_for_id(id);
    size_t start = mstart;
    size_t stop = mend;
    if (tok != nullptr && tok->single_word) {
      const bool start_space = start == 0 || !is_word_char(last_code_point(s.substr(0, start)));
      bool stop_space = stop == s.size();
      if (!stop_space) {
        size_t k = stop;
        stop_space = !is_word_char(next_code_point(s, k));
      }
      if (!start_space || !stop_space) return;  // not a whole word: skipped, as is its text
    }
    if (tok != nullptr && tok->lstrip) {
      size_t ns = start;
      while (ns > 0) {
        size_t b = ns - 1;
        while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0u) == 0x80u) --b;
        size_t k = b;
        if (!is_white_space(next_code_point(s, k))) break;
        ns = b;
      }
      start = std::max(ns, start_offset);
    }
    if (tok != nullptr && tok->rstrip) {
      while (stop < s.size()) {
        size_t k = stop;
        if (!is_white_space(next_code_point(s, k))) break;
        stop = k;
      }
    }
    if (start_offset < start)
      out.push_back({static_cast<uint32_t>(start_offset), static_cast<uint32_t>(start), kNoId});
    out.push_back({static_cast<uint32_t>(start), static_cast<uint32_t>(stop), id});
    start_offset = stop;
  });
  if (start_offset != s.size()) {
    out.push_back({static_cast<uint32_t>(start_offset), static_cast<uint32_t>(s.size()), kNoId});
  }
}

}  // namespace llmd::tokenizer
