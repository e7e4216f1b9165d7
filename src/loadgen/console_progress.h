#pragma once
// Progress on stderr while a run goes: a redrawn bar on a terminal, one line per interval otherwise,
// and a line per finished stage. Used by `llmd bench` and `llmd demo`.

#include "loadgen/runner.h"

namespace llmd::loadgen {

class ConsoleProgress final : public ProgressSink {
 public:
  explicit ConsoleProgress(bool bar) : bar_(bar) {}
  void on_progress(const ProgressSnapshot& s) override;
  void on_stage_done(const StageResult& st) override;

 private:
  bool bar_;
};

}  // namespace llmd::loadgen
