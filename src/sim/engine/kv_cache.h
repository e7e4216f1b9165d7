#pragma once
// The paged KV cache of one simulated engine, modelled on vLLM v1's BlockPool: fixed-size blocks,
// reference counts, a map from block hash to cached blocks (automatic prefix caching), and a free
// queue ordered for LRU eviction. Freed blocks keep their hash and stay hittable until a new
// allocation takes them from the head of the free queue, which evicts them.
//
// Block 0 is reserved (vLLM's null block), so `num_blocks` - 1 are usable.

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "kvevents/block_hash.h"

namespace llmd::sim {

struct DigestHash {
  size_t operator()(const kvevents::Digest& d) const noexcept {
    size_t h = 0;
    for (size_t i = 0; i < sizeof(size_t); ++i) h = (h << 8) | d[i];
    return h;
  }
};

class BlockPool {
 public:
  explicit BlockPool(uint32_t num_blocks);

  uint32_t num_blocks() const { return static_cast<uint32_t>(blocks_.size()); }
  uint32_t usable_blocks() const { return num_blocks() - 1; }
  // Blocks in the free queue (free, whether cached or not).
  uint32_t num_free() const { return num_free_; }
  // vLLM's kv_cache_usage_perc: 1 - free / usable.
  double usage() const;
  uint32_t ref_count(uint32_t block) const { return blocks_[block].ref_cnt; }

  // A cached block holding `hash`, or -1.
  int64_t lookup(const kvevents::Digest& hash) const;

  // Takes `n` blocks from the head of the free queue (n <= num_free()). Blocks that were cached are
  // evicted first; their hashes are appended to `evicted`.
  void allocate(uint32_t n, std::vector<uint32_t>& out, std::vector<kvevents::Digest>& evicted);
  // Takes a reference on a block found by lookup(), removing it from the free queue if needed.
  void touch(uint32_t block);
  // Drops one reference on each block, in order; blocks reaching zero go to the tail of the free
  // queue, so pass them in the order they should be evicted.
  void release(std::span<const uint32_t> blocks);
  // Registers `block` as holding `hash`.
  void cache(uint32_t block, const kvevents::Digest& hash);
  // Forgets every cached hash; fails (false) unless every usable block is free.
  bool reset();

 private:
  static constexpr uint32_t kNone = ~uint32_t{0};
  struct Block {
    uint32_t ref_cnt = 0;
    uint32_t prev = kNone;
    uint32_t next = kNone;
    bool in_free_queue = false;
    bool cached = false;
    kvevents::Digest hash{};
  };
  void push_back(uint32_t b);
  void unlink(uint32_t b);
  void uncache(uint32_t b);

  std::vector<Block> blocks_;
  uint32_t head_ = kNone;
  uint32_t tail_ = kNone;
  uint32_t num_free_ = 0;
  // vLLM keeps every block that holds a hash (two requests may compute the same block); lookups
  // return the first.
  std::unordered_map<kvevents::Digest, std::vector<uint32_t>, DigestHash> cached_;
};

}  // namespace llmd::sim
