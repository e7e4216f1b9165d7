#include "tokenizer/bpe.h"

#include <algorithm>

#include <fmt/format.h>

#include "tokenizer/json_util.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode.h"

namespace llmd::tokenizer {
namespace {

// Words at least this long are not cached; they are rare and would crowd out common ones.
constexpr size_t kMaxCachedWordBytes = 256;
// Ids above this are rejected: the id-to-token table is dense.
constexpr uint64_t kMaxTokenId = 16u * 1024 * 1024;

// Min-heap order on (rank, position).
struct CandidateAfter {
  bool operator()(const BpeCandidate& a, const BpeCandidate& b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  }
};

}  // namespace

Result<std::unique_ptr<Bpe>> Bpe::parse(const boost::json::value& model, const std::string& path) {
  auto obj_r = json::as_object(model, path);
  if (!obj_r) return obj_r.error();
  const auto& obj = **obj_r;
  std::string type = "BPE";
  if (const auto* t = json::find(obj, "type")) {
    if (!t->is_string()) return json::type_error(json::child(path, "type"), "string");
    type = std::string(t->get_string());
  }
  if (type != "BPE") {
    return make_error(ErrorCode::kConfig,
                      fmt::format("{}.type: unsupported model '{}' (only BPE)", path, type));
  }
  std::unique_ptr<Bpe> bpe(new Bpe());
  if (const auto* d = json::find(obj, "dropout")) {
    const bool zero = (d->is_double() && d->get_double() == 0.0) || (d->is_int64() && d->get_int64() == 0) ||
                      (d->is_uint64() && d->get_uint64() == 0);
    if (!zero) {
      return make_error(
          ErrorCode::kConfig,
          fmt::format("{}.dropout: BPE dropout is random and unsupported; expected null or 0", path));
    }
  }
  auto unk = json::get_optional_string(obj, "unk_token", path);
  if (!unk) return unk.error();
  auto prefix = json::get_optional_string(obj, "continuing_subword_prefix", path);
  if (!prefix) return prefix.error();
  auto suffix = json::get_optional_string(obj, "end_of_word_suffix", path);
  if (!suffix) return suffix.error();
  bpe->prefix_ = prefix->value_or("");
  bpe->suffix_ = suffix->value_or("");
  auto fuse = json::get_bool(obj, "fuse_unk", path, false);
  if (!fuse) return fuse.error();
  bpe->fuse_unk_ = *fuse;
  auto bf = json::get_bool(obj, "byte_fallback", path, false);
  if (!bf) return bf.error();
  bpe->byte_fallback_ = *bf;
  auto im = json::get_bool(obj, "ignore_merges", path, false);
  if (!im) return im.error();
  bpe->ignore_merges_ = *im;

  const std::string vocab_path = json::child(path, "vocab");
  const auto* vocab_v = json::find(obj, "vocab");
  if (vocab_v == nullptr) return json::type_error(vocab_path, "object");
  auto vocab = json::as_object(*vocab_v, vocab_path);
  if (!vocab) return vocab.error();
  bpe->vocab_.reserve((*vocab)->size());
  uint64_t max_id = 0;
  for (const auto& kv : **vocab) {
    const auto& idv = kv.value();
    uint64_t id;
    if (idv.is_uint64()) {
      id = idv.get_uint64();
    } else if (idv.is_int64() && idv.get_int64() >= 0) {
      id = static_cast<uint64_t>(idv.get_int64());
    } else {
      return json::type_error(fmt::format("{}[\"{}\"]", vocab_path, std::string_view(kv.key())), "token id");
    }
    if (id > kMaxTokenId) {
      return make_error(ErrorCode::kConfig, fmt::format("{}[\"{}\"]: id {} is too large", vocab_path,
                                                        std::string_view(kv.key()), id));
    }
    bpe->vocab_.insert_or_assign(kv.key(), static_cast<uint32_t>(id));
    max_id = std::max(max_id, id);
  }
  bpe->id_to_token_.resize((*vocab)->empty() ? 0 : max_id + 1);
  bpe->has_id_.resize(bpe->id_to_token_.size());
  for (const auto& kv : **vocab) {
    const auto& idv = kv.value();
    const uint64_t id = idv.is_uint64() ? idv.get_uint64() : static_cast<uint64_t>(idv.get_int64());
    bpe->id_to_token_[id] = std::string(kv.key());
    bpe->has_id_[id] = true;
  }

  if (unk->has_value()) {
    bpe->unk_id_ = bpe->vocab_.find(**unk);
    if (bpe->unk_id_ == kNoId) {
      return make_error(ErrorCode::kConfig,
                        fmt::format("{}.unk_token: '{}' is not in the vocabulary", path, **unk));
    }
  }
  for (uint32_t b = 0; b < 256; ++b) {
    bpe->byte_fallback_ids_[b] = bpe->vocab_.find(fmt::format("<0x{:02X}>", b));
  }

  const std::string merges_path = json::child(path, "merges");
  const auto* merges_v = json::find(obj, "merges");
  if (merges_v != nullptr) {
    auto merges = json::as_array(*merges_v, merges_path);
    if (!merges) return merges.error();
    bpe->merges_.reserve((*merges)->size());
    const size_t prefix_len = prefix->has_value() ? (*prefix)->size() : 0;
    std::string merged;
    for (size_t i = 0; i < (*merges)->size(); ++i) {
      const auto& m = (**merges)[i];
      std::string_view a, b;
      if (m.is_string()) {
        const std::string_view s = m.get_string();
        const size_t sp = s.find(' ');
        if (sp == std::string_view::npos || s.find(' ', sp + 1) != std::string_view::npos) {
          return make_error(ErrorCode::kConfig, fmt::format("{}: expected \"left right\" with one space",
                                                            json::index(merges_path, i)));
        }
        a = s.substr(0, sp);
        b = s.substr(sp + 1);
      } else if (m.is_array() && m.get_array().size() == 2 && m.get_array()[0].is_string() &&
                 m.get_array()[1].is_string()) {
        a = m.get_array()[0].get_string();
        b = m.get_array()[1].get_string();
      } else {
        return json::type_error(json::index(merges_path, i), "\"left right\" or [left, right]");
      }
      const uint32_t a_id = bpe->vocab_.find(a);
      const uint32_t b_id = bpe->vocab_.find(b);
      if (a_id == kNoId || b_id == kNoId) {
        return make_error(ErrorCode::kConfig,
                          fmt::format("{}: token '{}' is not in the vocabulary", json::index(merges_path, i),
                                      a_id == kNoId ? a : b));
      }
      if (b.size() < prefix_len) {
        return make_error(ErrorCode::kConfig,
                          fmt::format("{}: '{}' is shorter than the continuing-subword prefix",
                                      json::index(merges_path, i), b));
      }
      merged.assign(a);
      merged.append(b.substr(prefix_len));
      const uint32_t new_id = bpe->vocab_.find(merged);
      if (new_id == kNoId) {
        return make_error(ErrorCode::kConfig, fmt::format("{}: merged token '{}' is not in the vocabulary",
                                                          json::index(merges_path, i), merged));
      }
      bpe->merges_.insert_or_assign(a_id, b_id, {static_cast<uint32_t>(i), new_id});
    }
    bpe->prefix_bytes_ = prefix_len;
  }
  bpe->build_lookup_tables();
  return bpe;
}

void Bpe::build_lookup_tables() {
  const size_t n = id_to_token_.size();
  token_bytes_.assign(n, 0);
  for (size_t id = 0; id < n; ++id) token_bytes_[id] = static_cast<uint32_t>(id_to_token_[id].size());
  merge_left_.assign(n, false);
  merge_right_.assign(n, false);
  merges_.for_each([&](uint32_t a, uint32_t b, const PairMap::Value&) {
    merge_left_[a] = true;
    merge_right_[b] = true;
  });
  if (prefix_.empty() && suffix_.empty()) {
    bmp_char_ids_.assign(0x10000, kNoId);
    vocab_.for_each([&](std::string_view token, uint32_t id) {
      if (token.empty() || utf8_length(static_cast<unsigned char>(token[0])) != token.size() ||
          token.size() > 3)
        return;
      size_t i = 0;
      bmp_char_ids_[next_code_point(token, i)] = id;
    });
  }
}

bool Bpe::enable_raw_mode() {
  if (!prefix_.empty() || !suffix_.empty()) return false;
  const auto& table = ByteLevelTable::get();
  for (uint32_t b = 0; b < 256; ++b) {
    raw_byte_ids_[b] = vocab_.find(table.chars[b]);
    if (raw_byte_ids_[b] == kNoId) return false;
  }
  raw_vocab_.reserve(vocab_.size());
  std::string raw;
  vocab_.for_each([&](std::string_view token, uint32_t id) {
    raw.clear();
    size_t i = 0;
    while (i < token.size()) {
      const int b = table.byte_of(next_code_point(token, i));
      if (b < 0) return;  // not a byte-level token: raw input can never spell it
      raw.push_back(static_cast<char>(b));
    }
    raw_vocab_.insert_or_assign(raw, id);
  });
  raw_mode_ = true;
  return true;
}

void Bpe::initial_symbols_raw(std::string_view word, EncodeScratch::Impl& s) const {
  auto& sym = s.symbols;
  sym.resize(word.size());
  const int32_t n = static_cast<int32_t>(word.size());
  for (int32_t i = 0; i < n; ++i) {
    sym[i] = {raw_byte_ids_[static_cast<unsigned char>(word[i])], i - 1, i + 1 < n ? i + 1 : -1, 1};
  }
}

void Bpe::initial_symbols_text(std::string_view word, EncodeScratch::Impl& s) const {
  auto& sym = s.symbols;
  sym.clear();
  auto push = [&](uint32_t id) {
    const auto n = static_cast<int32_t>(sym.size());
    if (n > 0) sym.back().next = n;
    sym.push_back({id, n - 1, -1, 1});
  };
  const bool affixes = !prefix_.empty() || !suffix_.empty();
  uint32_t pending_unk = kNoId;  // an unknown-token run not yet emitted
  size_t i = 0;
  while (i < word.size()) {
    const size_t start = i;
    i += utf8_length(static_cast<unsigned char>(word[i]));
    std::string_view key = word.substr(start, i - start);
    if (!affixes && i - start <= 3) {
      size_t k = start;
      const uint32_t id = bmp_char_ids_[next_code_point(word, k)];
      if (id != kNoId) {
        if (pending_unk != kNoId) {
          push(pending_unk);
          pending_unk = kNoId;
        }
        push(id);
        continue;
      }
    }
    if (affixes) {
      s.word.clear();
      if (start != 0) s.word.append(prefix_);
      s.word.append(key);
      if (i == word.size()) s.word.append(suffix_);
      key = s.word;
    }
    const uint32_t id = vocab_.find(key);
    if (id != kNoId) {
      if (pending_unk != kNoId) {
        push(pending_unk);
        pending_unk = kNoId;
      }
      push(id);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (char c : key) all = all && byte_fallback_ids_[static_cast<unsigned char>(c)] != kNoId;
      if (all) {
        // As in Hugging Face, byte tokens go out before a pending unknown token is flushed.
        for (char c : key) push(byte_fallback_ids_[static_cast<unsigned char>(c)]);
        continue;
      }
    }
    if (unk_id_ != kNoId) {
      if (pending_unk != kNoId && !fuse_unk_) push(pending_unk);
      pending_unk = unk_id_;
    }
  }
  if (pending_unk != kNoId) push(pending_unk);
}

void Bpe::merge_all(EncodeScratch::Impl& s) const {
  auto& sym = s.symbols;
  auto& heap = s.heap;
  heap.clear();
  // The table is large and lookups are random: prefetch a few pairs ahead.
  constexpr size_t kAhead = 8;
  for (size_t i = 0; i + 1 < sym.size() && i < kAhead; ++i) merges_.prefetch(sym[i].id, sym[i + 1].id);
  for (size_t i = 0; i + 1 < sym.size(); ++i) {
    if (i + kAhead + 1 < sym.size()) merges_.prefetch(sym[i + kAhead].id, sym[i + kAhead + 1].id);
    if (const auto* m = find_merge(sym[i].id, sym[i + 1].id)) {
      heap.push_back({m->rank, static_cast<uint32_t>(i), m->id, sym[i].id, sym[i + 1].id});
    }
  }
  std::make_heap(heap.begin(), heap.end(), CandidateAfter{});
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), CandidateAfter{});
    const BpeCandidate top = heap.back();
    heap.pop_back();
    BpeSymbol& cur = sym[top.pos];
    if (!cur.alive || cur.next < 0) continue;
    const int32_t next_pos = cur.next;
    BpeSymbol& right = sym[next_pos];
    if (cur.id != top.left || right.id != top.right) {
      // The pair changed since this candidate was made. Hugging Face still applies it when the
      // current pair merges into the same token, so check that (lengths first, which is cheap).
      if (token_bytes_[cur.id] + token_bytes_[right.id] - prefix_bytes_ != token_bytes_[top.new_id]) continue;
      const auto* m = find_merge(cur.id, right.id);
      if (m == nullptr || m->id != top.new_id) continue;
    }
    cur.id = top.new_id;
    right.alive = 0;
    cur.next = right.next;
    if (right.next >= 0) sym[right.next].prev = static_cast<int32_t>(top.pos);
    if (cur.prev >= 0) {
      if (const auto* pm = find_merge(sym[cur.prev].id, cur.id)) {
        heap.push_back({pm->rank, static_cast<uint32_t>(cur.prev), pm->id, sym[cur.prev].id, cur.id});
        std::push_heap(heap.begin(), heap.end(), CandidateAfter{});
      }
    }
    if (cur.next >= 0) {
      if (const auto* nm = find_merge(cur.id, sym[cur.next].id)) {
        heap.push_back({nm->rank, top.pos, nm->id, cur.id, sym[cur.next].id});
        std::push_heap(heap.begin(), heap.end(), CandidateAfter{});
      }
    }
  }
}

Result<void> Bpe::tokenize(std::string_view word, bool raw, EncodeScratch::Impl& s,
                           std::vector<uint32_t>& out) const {
  if (word.empty()) return {};
  const uint64_t h = hash_bytes(word);
  if (ignore_merges_) {
    const uint32_t id = raw ? raw_vocab_.find(word, h) : vocab_.find(word, h);
    if (id != kNoId) {
      out.push_back(id);
      return {};
    }
  }
  const bool cacheable = word.size() < kMaxCachedWordBytes;
  if (cacheable && s.cache.lookup(word, h, out)) return {};
  if (raw) {
    initial_symbols_raw(word, s);
  } else {
    initial_symbols_text(word, s);
  }
  if (s.symbols.size() > 1) merge_all(s);
  const size_t before = out.size();
  for (int32_t i = s.symbols.empty() ? -1 : 0; i >= 0; i = s.symbols[i].next) out.push_back(s.symbols[i].id);
  if (cacheable) s.cache.store(word, h, out.data() + before, out.size() - before);
  return {};
}

}  // namespace llmd::tokenizer
