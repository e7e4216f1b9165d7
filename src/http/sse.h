#pragma once
// Incremental Server-Sent Events parser (WHATWG EventSource rules): feed bytes as they arrive in
// any split; complete events come out in order. Lines end in LF, CR or CRLF; ':' lines are comments;
// multiple data lines join with '\n'; an event is dispatched on a blank line (and only if it had a
// data field). A leading UTF-8 BOM is skipped; an unfinished event at the end of input is dropped.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace llmd::http {

struct SseEvent {
  std::string event;  // empty means "message"
  std::string data;
  // The last event ID seen so far: like EventSource's lastEventId it carries over to later events.
  std::string id;
  // The last valid `retry` value seen so far (it also carries over).
  std::optional<uint64_t> retry_ms;
};

class SseParser {
 public:
  // `max_event_bytes` bounds the bytes buffered for one event; past it the parser fails.
  explicit SseParser(size_t max_event_bytes = 16 * 1024 * 1024) : max_event_bytes_(max_event_bytes) {}
  // Calls `on_event` for each event completed by these bytes. Returns false if an event exceeded
  // the bound (the parser is then unusable).
  bool feed(std::string_view bytes, const std::function<void(const SseEvent&)>& on_event);
  // Bytes buffered in an unfinished line or event.
  size_t pending_bytes() const { return line_.size() + current_.data.size(); }

 private:
  void process_line(std::string_view line, const std::function<void(const SseEvent&)>& on_event);

  size_t max_event_bytes_;
  std::string line_;
  SseEvent current_;
  bool has_data_ = false;
  bool last_was_cr_ = false;
  bool first_line_ = true;
  bool failed_ = false;
};

// Formats "data: <payload>\n\n" (payload must not contain newlines; JSON never does).
std::string sse_data(std::string_view payload);

}  // namespace llmd::http
