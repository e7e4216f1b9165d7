#pragma once
// SIGINT/SIGTERM during start-up. A server installs its handler (an asio signal_set) only once it is
// listening; a stop signal that arrived before would take the default action and kill the process
// mid-start. Blocking both signals first keeps such a signal pending; it is delivered, to the
// handler, when the thread that waits for it unblocks them.

namespace llmd {

// Blocks SIGINT and SIGTERM in the calling thread and so in every thread it starts afterwards. Call
// before starting any thread.
void block_stop_signals();
// Unblocks them in the calling thread (a no-op when they were not blocked). Call once a handler is
// installed: a pending signal is delivered then.
void unblock_stop_signals();

}  // namespace llmd
