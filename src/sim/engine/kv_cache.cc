#include "sim/engine/kv_cache.h"

#include <algorithm>

namespace llmd::sim {

BlockPool::BlockPool(uint32_t num_blocks) : blocks_(std::max<uint32_t>(num_blocks, 2)) {
  for (uint32_t b = 1; b < blocks_.size(); ++b) push_back(b);
  blocks_[0].ref_cnt = 1;  // the null block is never handed out
}

double BlockPool::usage() const {
  return 1.0 - static_cast<double>(num_free_) / static_cast<double>(usable_blocks());
}

int64_t BlockPool::lookup(const kvevents::Digest& hash) const {
  auto it = cached_.find(hash);
  if (it == cached_.end() || it->second.empty()) return -1;
  return it->second.front();
}

void BlockPool::push_back(uint32_t b) {
  Block& blk = blocks_[b];
  blk.prev = tail_;
  blk.next = kNone;
  if (tail_ != kNone) {
    blocks_[tail_].next = b;
  } else {
    head_ = b;
  }
  tail_ = b;
  blk.in_free_queue = true;
  ++num_free_;
}

void BlockPool::unlink(uint32_t b) {
  Block& blk = blocks_[b];
  if (blk.prev != kNone) {
    blocks_[blk.prev].next = blk.next;
  } else {
    head_ = blk.next;
  }
  if (blk.next != kNone) {
    blocks_[blk.next].prev = blk.prev;
  } else {
    tail_ = blk.prev;
  }
  blk.prev = blk.next = kNone;
  blk.in_free_queue = false;
  --num_free_;
}

void BlockPool::uncache(uint32_t b) {
  Block& blk = blocks_[b];
  if (!blk.cached) return;
  auto it = cached_.find(blk.hash);
  if (it != cached_.end()) {
    auto& v = it->second;
    v.erase(std::remove(v.begin(), v.end(), b), v.end());
    if (v.empty()) cached_.erase(it);
  }
  blk.cached = false;
}

void BlockPool::allocate(uint32_t n, std::vector<uint32_t>& out, std::vector<kvevents::Digest>& evicted) {
  for (uint32_t i = 0; i < n && head_ != kNone; ++i) {
    const uint32_t b = head_;
    unlink(b);
    if (blocks_[b].cached) {
      evicted.push_back(blocks_[b].hash);
      uncache(b);
    }
    blocks_[b].ref_cnt = 1;
    out.push_back(b);
  }
}

void BlockPool::touch(uint32_t block) {
  Block& blk = blocks_[block];
  if (blk.ref_cnt == 0 && blk.in_free_queue) unlink(block);
  ++blk.ref_cnt;
}

void BlockPool::release(std::span<const uint32_t> blocks) {
  for (uint32_t b : blocks) {
    Block& blk = blocks_[b];
    if (blk.ref_cnt == 0) continue;
    if (--blk.ref_cnt == 0) push_back(b);
  }
}

void BlockPool::cache(uint32_t block, const kvevents::Digest& hash) {
  Block& blk = blocks_[block];
  if (blk.cached) return;
  blk.hash = hash;
  blk.cached = true;
  cached_[hash].push_back(block);
}

bool BlockPool::reset() {
  if (num_free_ != usable_blocks()) return false;
  cached_.clear();
  for (auto& b : blocks_) b.cached = false;
  return true;
}

}  // namespace llmd::sim
