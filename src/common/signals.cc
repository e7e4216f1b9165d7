#include "common/signals.h"

#include <pthread.h>
#include <signal.h>

namespace llmd {

namespace {

void set_stop_signals_mask(int how) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(how, &set, nullptr);
}

}  // namespace

void block_stop_signals() { set_stop_signals_mask(SIG_BLOCK); }

void unblock_stop_signals() { set_stop_signals_mask(SIG_UNBLOCK); }

}  // namespace llmd
