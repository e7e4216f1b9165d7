#include "kvevents/events.h"

#include <array>
#include <limits>

#include "kvevents/msgpack.h"

namespace llmd::kvevents {

namespace {

using msgpack::Reader;
using msgpack::Type;
using msgpack::Writer;

constexpr std::string_view kTagStored = "BlockStored";
constexpr std::string_view kTagRemoved = "BlockRemoved";
constexpr std::string_view kTagCleared = "AllBlocksCleared";

constexpr std::array<std::string_view, 12> kStoredFields = {"block_hashes",
                                                            "parent_block_hash",
                                                            "token_ids",
                                                            "block_size",
                                                            "lora_id",
                                                            "medium",
                                                            "lora_name",
                                                            "extra_keys",
                                                            "group_idx",
                                                            "kv_cache_spec_kind",
                                                            "kv_cache_spec_sliding_window",
                                                            "locality"};
constexpr size_t kStoredRequired = 7;  // block_hashes .. lora_name have no default
constexpr std::array<std::string_view, 4> kRemovedFields = {"block_hashes", "medium", "group_idx",
                                                            "locality"};
constexpr size_t kRemovedRequired = 2;

// Writes a tagged struct the way msgspec does with omit_defaults: `omit[i]` is true for an
// optional field holding its default. Required fields are never omitted.
template <size_t N, class WriteField>
void write_struct(Writer& w, Encoding enc, std::string_view tag, const std::array<std::string_view, N>& names,
                  const std::array<bool, N>& omit, WriteField&& write_field) {
  if (enc == Encoding::kArray) {
    size_t last = 0;
    for (size_t i = 0; i < N; ++i) {
      if (!omit[i]) last = i + 1;
    }
    w.array_head(static_cast<uint32_t>(1 + last));
    w.str(tag);
    for (size_t i = 0; i < last; ++i) {
      if (omit[i]) {
        w.nil();
      } else {
        write_field(i);
      }
    }
    return;
  }
  uint32_t count = 1;
  for (bool o : omit) count += o ? 0 : 1;
  w.map_head(count);
  w.str("type");
  w.str(tag);
  for (size_t i = 0; i < N; ++i) {
    if (omit[i]) continue;
    w.str(names[i]);
    write_field(i);
  }
}

void write_hashes(Writer& w, const std::vector<uint64_t>& hashes) {
  w.array_head(static_cast<uint32_t>(hashes.size()));
  for (uint64_t h : hashes) w.uint(h);
}

template <class T, class F>
void write_opt(Writer& w, const std::optional<T>& v, F&& f) {
  if (v) {
    f(*v);
  } else {
    w.nil();
  }
}

void write_extra_key(Writer& w, const ExtraKey& k) {
  switch (k.kind) {
    case ExtraKey::Kind::kText:
      w.str(k.value);
      break;
    case ExtraKey::Kind::kBytes:
      w.bin(k.value);
      break;
    case ExtraKey::Kind::kMmItem:
      w.array_head(2);
      w.str(k.value);
      w.sint(k.offset);
      break;
  }
}

void write_stored(Writer& w, Encoding enc, const BlockStored& e) {
  std::array<bool, 12> omit{};
  omit[7] = !e.extra_keys;
  omit[8] = !e.group_idx;
  omit[9] = !e.kv_cache_spec_kind;
  omit[10] = !e.kv_cache_spec_sliding_window;
  omit[11] = !e.locality;
  auto str = [&w](const std::string& s) { w.str(s); };
  auto sint = [&w](int64_t v) { w.sint(v); };
  write_struct(w, enc, kTagStored, kStoredFields, omit, [&](size_t i) {
    switch (i) {
      case 0:
        write_hashes(w, e.block_hashes);
        break;
      case 1:
        write_opt(w, e.parent_block_hash, [&w](uint64_t v) { w.uint(v); });
        break;
      case 2:
        w.array_head(static_cast<uint32_t>(e.token_ids.size()));
        for (uint32_t t : e.token_ids) w.uint(t);
        break;
      case 3:
        w.sint(e.block_size);
        break;
      case 4:
        write_opt(w, e.lora_id, sint);
        break;
      case 5:
        write_opt(w, e.medium, str);
        break;
      case 6:
        write_opt(w, e.lora_name, str);
        break;
      case 7:
        w.array_head(static_cast<uint32_t>(e.extra_keys->size()));
        for (const auto& block : *e.extra_keys) {
          if (!block) {
            w.nil();
            continue;
          }
          w.array_head(static_cast<uint32_t>(block->size()));
          for (const auto& k : *block) write_extra_key(w, k);
        }
        break;
      case 8:
        w.sint(*e.group_idx);
        break;
      case 9:
        w.str(*e.kv_cache_spec_kind);
        break;
      case 10:
        w.sint(*e.kv_cache_spec_sliding_window);
        break;
      case 11:
        w.str(*e.locality);
        break;
    }
  });
}

void write_removed(Writer& w, Encoding enc, const BlockRemoved& e) {
  std::array<bool, 4> omit{};
  omit[2] = !e.group_idx;
  omit[3] = !e.locality;
  write_struct(w, enc, kTagRemoved, kRemovedFields, omit, [&](size_t i) {
    switch (i) {
      case 0:
        write_hashes(w, e.block_hashes);
        break;
      case 1:
        write_opt(w, e.medium, [&w](const std::string& s) { w.str(s); });
        break;
      case 2:
        w.sint(*e.group_idx);
        break;
      case 3:
        w.str(*e.locality);
        break;
    }
  });
}

// ---- decoding ----

bool read_hash(Reader& r, uint64_t& out) {
  if (r.peek() == Type::kBin) {
    std::string_view b;
    if (!r.read_bin(b)) return false;
    out = 0;
    const size_t start = b.size() > 8 ? b.size() - 8 : 0;
    for (size_t i = start; i < b.size(); ++i) out = (out << 8) | static_cast<uint8_t>(b[i]);
    return true;
  }
  return r.read_u64_bits(out);
}

bool read_hashes(Reader& r, std::vector<uint64_t>& out) {
  uint32_t n = 0;
  if (!r.read_array(n)) return false;
  out.resize(n);
  for (auto& h : out) {
    if (!read_hash(r, h)) return false;
  }
  return true;
}

bool read_opt_string(Reader& r, std::optional<std::string>& out) {
  if (r.peek() == Type::kNil) {
    out.reset();
    return r.read_nil();
  }
  std::string_view s;
  if (!r.read_str(s)) return false;
  out = std::string(s);
  return true;
}

bool read_opt_int(Reader& r, std::optional<int64_t>& out) {
  if (r.peek() == Type::kNil) {
    out.reset();
    return r.read_nil();
  }
  int64_t v = 0;
  if (!r.read_int(v)) return false;
  out = v;
  return true;
}

// One extra-key element; unknown shapes are skipped (returns true with `out` unset).
bool read_extra_key(Reader& r, std::optional<ExtraKey>& out) {
  std::string_view s;
  switch (r.peek()) {
    case Type::kStr:
      if (!r.read_str(s)) return false;
      out = ExtraKey::text(std::string(s));
      return true;
    case Type::kBin:
      if (!r.read_bin(s)) return false;
      out = ExtraKey::bytes(std::string(s));
      return true;
    case Type::kArray: {
      uint32_t n = 0;
      if (!r.read_array(n)) return false;
      if (n >= 1 && r.peek() == Type::kStr) {
        if (!r.read_str(s)) return false;
        int64_t offset = 0;
        if (n >= 2 && (r.peek() == Type::kUint || r.peek() == Type::kInt)) {
          if (!r.read_int(offset)) return false;
          --n;
        }
        out = ExtraKey::mm_item(std::string(s), offset);
        --n;
      }
      for (uint32_t i = 0; i < n; ++i) {
        if (!r.skip()) return false;
      }
      return true;
    }
    default:
      return r.skip();
  }
}

bool read_extra_keys(Reader& r, std::optional<std::vector<BlockExtraKeys>>& out) {
  if (r.peek() == Type::kNil) {
    out.reset();
    return r.read_nil();
  }
  uint32_t n = 0;
  if (!r.read_array(n)) return false;
  out.emplace();
  out->reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (r.peek() == Type::kNil) {
      if (!r.read_nil()) return false;
      out->emplace_back();
      continue;
    }
    uint32_t m = 0;
    if (!r.read_array(m)) return false;
    auto& keys = out->emplace_back(std::in_place);
    for (uint32_t j = 0; j < m; ++j) {
      std::optional<ExtraKey> k;
      if (!read_extra_key(r, k)) return false;
      if (k) keys->push_back(std::move(*k));
    }
  }
  return true;
}

bool read_stored_field(Reader& r, size_t i, BlockStored& e) {
  switch (i) {
    case 0:
      return read_hashes(r, e.block_hashes);
    case 1:
      if (r.peek() == Type::kNil) {
        e.parent_block_hash.reset();
        return r.read_nil();
      } else {
        uint64_t h = 0;
        if (!read_hash(r, h)) return false;
        e.parent_block_hash = h;
        return true;
      }
    case 2: {
      uint32_t n = 0;
      if (!r.read_array(n)) return false;
      e.token_ids.resize(n);
      for (auto& t : e.token_ids) {
        uint64_t v = 0;
        if (!r.read_uint(v) || v > std::numeric_limits<uint32_t>::max()) return false;
        t = static_cast<uint32_t>(v);
      }
      return true;
    }
    case 3:
      return r.read_int(e.block_size);
    case 4:
      return read_opt_int(r, e.lora_id);
    case 5:
      return read_opt_string(r, e.medium);
    case 6:
      return read_opt_string(r, e.lora_name);
    case 7:
      return read_extra_keys(r, e.extra_keys);
    case 8:
      return read_opt_int(r, e.group_idx);
    case 9:
      return read_opt_string(r, e.kv_cache_spec_kind);
    case 10:
      return read_opt_int(r, e.kv_cache_spec_sliding_window);
    case 11:
      return read_opt_string(r, e.locality);
    default:
      return r.skip();
  }
}

bool read_removed_field(Reader& r, size_t i, BlockRemoved& e) {
  switch (i) {
    case 0:
      return read_hashes(r, e.block_hashes);
    case 1:
      return read_opt_string(r, e.medium);
    case 2:
      return read_opt_int(r, e.group_idx);
    case 3:
      return read_opt_string(r, e.locality);
    default:
      return r.skip();
  }
}

enum class Tag { kStored, kRemoved, kCleared, kUnknown };

Tag tag_of(std::string_view s) {
  if (s == kTagStored) return Tag::kStored;
  if (s == kTagRemoved) return Tag::kRemoved;
  if (s == kTagCleared) return Tag::kCleared;
  return Tag::kUnknown;
}

template <size_t N>
size_t field_index(const std::array<std::string_view, N>& names, std::string_view key) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == key) return i;
  }
  return N;  // unknown: skipped
}

// The fields of one event as they are read, whichever form carries them.
struct EventFields {
  Tag tag = Tag::kUnknown;
  BlockStored stored;
  BlockRemoved removed;
  bool ok = true;  // every field had the expected type

  // Reads one field value with `read` on a copy of the reader: a value of the wrong type fails
  // only the copy, is skipped, and drops the event. False when the input is malformed past recovery.
  template <class ReadFn>
  bool field(Reader& r, ReadFn&& read) {
    Reader probe = r;
    if (read(probe)) {
      r = probe;
      return true;
    }
    ok = false;
    return r.skip();
  }

  void finish(std::optional<Event>& out) {
    if (!ok) return;
    if (tag == Tag::kStored) out = std::move(stored);
    if (tag == Tag::kRemoved) out = std::move(removed);
    if (tag == Tag::kCleared) out = AllBlocksCleared{};
  }
};

// Decodes one event. Returns false when the input is malformed past recovery (the reader failed);
// `out` stays empty for unknown tags and for events whose fields have the wrong types.
bool read_event(Reader& r, std::optional<Event>& out) {
  const Type t = r.peek();
  if (t == Type::kArray) {
    uint32_t n = 0;
    if (!r.read_array(n)) return false;
    if (n == 0) return true;
    std::string_view tag_str;
    if (r.peek() != Type::kStr) {
      for (uint32_t i = 0; i < n; ++i) {
        if (!r.skip()) return false;
      }
      return true;
    }
    if (!r.read_str(tag_str)) return false;
    EventFields ev;
    ev.tag = tag_of(tag_str);
    for (uint32_t i = 1; i < n; ++i) {
      const bool readable = ev.field(r, [&](Reader& p) {
        if (ev.tag == Tag::kStored) return read_stored_field(p, i - 1, ev.stored);
        if (ev.tag == Tag::kRemoved) return read_removed_field(p, i - 1, ev.removed);
        return false;
      });
      if (!readable) return false;
    }
    ev.finish(out);
    return true;
  }
  if (t == Type::kMap) {
    uint32_t n = 0;
    if (!r.read_map(n)) return false;
    EventFields ev;
    // Key order is not part of the contract: find "type" first on a copy of the reader.
    {
      Reader scan = r;
      for (uint32_t i = 0; i < n; ++i) {
        std::string_view key;
        if (scan.peek() == Type::kStr) {
          if (!scan.read_str(key)) return false;
        } else if (!scan.skip()) {
          return false;
        }
        if (key == "type" && scan.peek() == Type::kStr) {
          std::string_view v;
          if (!scan.read_str(v)) return false;
          ev.tag = tag_of(v);
          break;
        }
        if (!scan.skip()) return false;
      }
    }
    for (uint32_t i = 0; i < n; ++i) {
      std::string_view key;
      if (r.peek() != Type::kStr) {
        if (!r.skip() || !r.skip()) return false;
        continue;
      }
      if (!r.read_str(key)) return false;
      const bool readable = ev.field(r, [&](Reader& p) {
        if (key == "type") return p.skip();
        if (ev.tag == Tag::kStored) return read_stored_field(p, field_index(kStoredFields, key), ev.stored);
        if (ev.tag == Tag::kRemoved)
          return read_removed_field(p, field_index(kRemovedFields, key), ev.removed);
        return p.skip();
      });
      if (!readable) return false;
    }
    ev.finish(out);
    return true;
  }
  return r.skip();
}

Error protocol_error(std::string message) { return Error(ErrorCode::kProtocol, std::move(message)); }

bool read_events(Reader& r, DecodedBatch& out) {
  uint32_t n = 0;
  if (!r.read_array(n)) return false;
  out.batch.events.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    std::optional<Event> e;
    if (!read_event(r, e)) return false;
    if (e) {
      out.batch.events.push_back(std::move(*e));
    } else {
      ++out.skipped_events;
    }
  }
  return true;
}

}  // namespace

void encode_batch(const EventBatch& batch, Encoding encoding, std::string& out) {
  Writer w(out);
  w.array_head(batch.data_parallel_rank ? 3 : 2);
  w.float64(batch.ts);
  w.array_head(static_cast<uint32_t>(batch.events.size()));
  for (const auto& ev : batch.events) {
    if (const auto* s = std::get_if<BlockStored>(&ev)) {
      write_stored(w, encoding, *s);
    } else if (const auto* rm = std::get_if<BlockRemoved>(&ev)) {
      write_removed(w, encoding, *rm);
    } else if (encoding == Encoding::kArray) {
      w.array_head(1);
      w.str(kTagCleared);
    } else {
      w.map_head(1);
      w.str("type");
      w.str(kTagCleared);
    }
  }
  if (batch.data_parallel_rank) w.sint(*batch.data_parallel_rank);
}

std::string encode_batch(const EventBatch& batch, Encoding encoding) {
  std::string out;
  encode_batch(batch, encoding, out);
  return out;
}

Result<DecodedBatch> decode_batch(std::string_view payload) {
  Reader r(payload);
  DecodedBatch out;
  if (r.peek() == Type::kArray) {
    uint32_t n = 0;
    if (!r.read_array(n) || n < 2) return protocol_error("event batch: expected an array of 2 or 3 elements");
    if (!r.read_number(out.batch.ts)) return protocol_error("event batch: ts is not a number");
    if (!read_events(r, out)) return protocol_error("event batch: malformed events");
    if (n >= 3) {
      if (r.peek() == Type::kNil) {
        r.read_nil();
      } else {
        int64_t rank = 0;
        if (!r.read_int(rank)) return protocol_error("event batch: data_parallel_rank is not an integer");
        out.batch.data_parallel_rank = rank;
      }
    }
    for (uint32_t i = 3; i < n; ++i) {
      if (!r.skip()) return protocol_error("event batch: malformed trailing element");
    }
    return out;
  }
  if (r.peek() == Type::kMap) {
    uint32_t n = 0;
    if (!r.read_map(n)) return protocol_error("event batch: malformed map");
    bool have_ts = false;
    bool have_events = false;
    for (uint32_t i = 0; i < n; ++i) {
      std::string_view key;
      if (r.peek() != Type::kStr) {
        if (!r.skip() || !r.skip()) return protocol_error("event batch: malformed map");
        continue;
      }
      r.read_str(key);
      bool ok = true;
      if (key == "ts") {
        ok = r.read_number(out.batch.ts);
        have_ts = ok;
      } else if (key == "events") {
        ok = read_events(r, out);
        have_events = ok;
      } else if (key == "data_parallel_rank") {
        ok = read_opt_int(r, out.batch.data_parallel_rank);
      } else {
        ok = r.skip();
      }
      if (!ok) return protocol_error("event batch: malformed field " + std::string(key));
    }
    if (!have_ts || !have_events) return protocol_error("event batch: map lacks ts or events");
    return out;
  }
  return protocol_error("event batch: expected a msgpack array");
}

}  // namespace llmd::kvevents
