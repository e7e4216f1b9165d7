#pragma once
// Loopback port helpers for tools that start local processes (`llmd up`, `llmd demo`, tests).
// A port reported free was bound and released a moment ago; another process may still take it.

#include <cstdint>
#include <optional>

namespace llmd {

// An ephemeral port that was free on 127.0.0.1, or nullopt when none could be bound.
std::optional<uint16_t> pick_free_port();
// The first of `count` consecutive ports that were all free on 127.0.0.1 (tried up to 200 times).
std::optional<uint16_t> pick_free_port_range(int count);

}  // namespace llmd
