#include "loadgen/console_progress.h"

#include <cstdio>

#include <fmt/format.h>

#include "loadgen/console.h"

namespace llmd::loadgen {

void ConsoleProgress::on_progress(const ProgressSnapshot& s) {
  if (bar_) {
    fmt::print(stderr, "\r\033[K{}", format_progress_bar(s));
  } else {
    fmt::print(stderr, "{}", format_progress_line(s));
  }
  std::fflush(stderr);
}

void ConsoleProgress::on_stage_done(const StageResult& st) {
  if (bar_) fmt::print(stderr, "\r\033[K");
  const Summary& s = st.summary;
  fmt::print(stderr,
             "stage {} ({}) done: {} ok, {} failed, {:.2f} req/s, {:.1f} output tok/s, TTFT p50 {:.1f} ms\n",
             st.index, to_string(st.kind), s.succeeded, s.failed, s.request_rate, s.output_token_rate,
             s.ttft.p50 * 1000);
  std::fflush(stderr);
}

}  // namespace llmd::loadgen
