#pragma once
// Open-addressing hash maps for the tokenizer's read-mostly tables (vocabulary, merges). Built once
// at load time, then only read, so lookups from many threads need no synchronization.
// std::unordered_map would allocate a node per entry and chase pointers on every lookup.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <xxhash.h>

namespace llmd::tokenizer {

inline constexpr uint32_t kNoId = 0xFFFFFFFFu;

inline uint64_t hash_bytes(std::string_view s) { return XXH3_64bits(s.data(), s.size()); }

// String -> id. Keys are copied into one contiguous buffer.
class StringIdMap {
 public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    rehash(cap);
  }

  // Inserts or overwrites. Returns true when the key was new.
  bool insert_or_assign(std::string_view key, uint32_t id) {
    if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.empty() ? 16 : slots_.size() * 2);
    const uint64_t h = hash_bytes(key);
    size_t i = h & mask_;
    while (true) {
      Slot& s = slots_[i];
      if (s.id == kNoId) {
        s.hash = h;
        s.offset = static_cast<uint32_t>(keys_.size());
        s.length = static_cast<uint32_t>(key.size());
        s.id = id;
        keys_.append(key);
        ++size_;
        return true;
      }
      if (s.hash == h && key_at(s) == key) {
        s.id = id;
        return false;
      }
      i = (i + 1) & mask_;
    }
  }

  uint32_t find(std::string_view key) const { return find(key, hash_bytes(key)); }

  uint32_t find(std::string_view key, uint64_t h) const {
    if (slots_.empty()) return kNoId;
    size_t i = h & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.id == kNoId) return kNoId;
      if (s.hash == h && s.length == key.size() && key_at(s) == key) return s.id;
      i = (i + 1) & mask_;
    }
  }

  size_t size() const { return size_; }

  template <class F>
  void for_each(F&& f) const {
    for (const auto& s : slots_) {
      if (s.id != kNoId) f(key_at(s), s.id);
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t offset = 0;
    uint32_t length = 0;
    uint32_t id = kNoId;
  };

  std::string_view key_at(const Slot& s) const { return std::string_view(keys_).substr(s.offset, s.length); }

  void rehash(size_t cap) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (const auto& s : old) {
      if (s.id == kNoId) continue;
      size_t i = s.hash & mask_;
      while (slots_[i].id != kNoId) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_;
  std::string keys_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// (left id, right id) -> (merge rank, merged id).
class PairMap {
 public:
  struct Value {
    uint32_t rank;
    uint32_t id;
  };

  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < n * 2) cap <<= 1;
    rehash(cap);
  }

  void insert_or_assign(uint32_t a, uint32_t b, Value v) {
    if ((size_ + 1) * 2 > slots_.size()) rehash(slots_.empty() ? 16 : slots_.size() * 2);
    const uint64_t key = pack(a, b);
    size_t i = mix(key) & mask_;
    while (true) {
      Slot& s = slots_[i];
      if (s.key == kEmpty) {
        s.key = key;
        s.value = v;
        ++size_;
        return;
      }
      if (s.key == key) {
        s.value = v;
        return;
      }
      i = (i + 1) & mask_;
    }
  }

  // Starts loading the slot of (a, b) into the cache ahead of a find().
  void prefetch(uint32_t a, uint32_t b) const { __builtin_prefetch(&slots_[mix(pack(a, b)) & mask_]); }

  // Returns nullptr when the pair does not merge.
  const Value* find(uint32_t a, uint32_t b) const {
    const uint64_t key = pack(a, b);
    size_t i = mix(key) & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.value;
      if (s.key == kEmpty) return nullptr;
      i = (i + 1) & mask_;
    }
  }

  size_t size() const { return size_; }

  template <class F>
  void for_each(F&& f) const {
    for (const auto& s : slots_) {
      if (s.key != kEmpty) f(static_cast<uint32_t>(s.key >> 32), static_cast<uint32_t>(s.key), s.value);
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  struct Slot {
    uint64_t key = kEmpty;
    Value value{0, 0};
  };
  static uint64_t pack(uint32_t a, uint32_t b) { return (static_cast<uint64_t>(a) << 32) | b; }
  static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
  }
  void rehash(size_t cap) {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    for (const auto& s : old) {
      if (s.key == kEmpty) continue;
      size_t i = mix(s.key) & mask_;
      while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }

  std::vector<Slot> slots_{16};
  size_t mask_ = 15;
  size_t size_ = 0;
};

}  // namespace llmd::tokenizer
