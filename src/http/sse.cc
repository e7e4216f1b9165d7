#include "http/sse.h"

#include <cstring>

namespace llmd::http {

namespace {

// The first CR or LF at or after p, or end. Two memchr scans beat a byte loop on typical lines.
const char* find_eol(const char* p, const char* end) {
  const auto* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
  const char* limit = lf != nullptr ? lf : end;
  const auto* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(limit - p)));
  return cr != nullptr ? cr : limit;
}

}  // namespace

bool SseParser::feed(std::string_view bytes, const std::function<void(const SseEvent&)>& on_event) {
  if (failed_) return false;
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  while (p != end) {
    // A CR ending the previous feed may be the first half of a CRLF.
    if (last_was_cr_) {
      last_was_cr_ = false;
      if (*p == '\n') {
        ++p;
        continue;
      }
    }
    const char* eol = find_eol(p, end);
    if (eol == end) {
      if (line_.size() + current_.data.size() + static_cast<size_t>(end - p) > max_event_bytes_) {
        failed_ = true;
        return false;
      }
      line_.append(p, end);
      return true;
    }
    // Complete lines straight from the input avoid a copy into line_.
    std::string_view line(p, static_cast<size_t>(eol - p));
    if (!line_.empty()) {
      line_.append(line);
      line = line_;
    }
    if (line.size() + current_.data.size() > max_event_bytes_) {
      failed_ = true;
      return false;
    }
    process_line(line, on_event);
    line_.clear();
    if (*eol == '\r') {
      if (eol + 1 == end) {
        last_was_cr_ = true;
      } else if (eol[1] == '\n') {
        ++eol;
      }
    }
    p = eol + 1;
  }
  return true;
}

void SseParser::process_line(std::string_view line, const std::function<void(const SseEvent&)>& on_event) {
  if (first_line_) {
    first_line_ = false;
    // A UTF-8 byte order mark may open the stream.
    if (line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);
  }
  if (line.empty()) {
    if (has_data_) on_event(current_);
    has_data_ = false;
    current_.data.clear();
    current_.event.clear();
    return;
  }
  if (line.front() == ':') return;  // comment
  std::string_view field = line;
  std::string_view value;
  if (const auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) current_.data.push_back('\n');
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    current_.event.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) current_.id.assign(value);
  } else if (field == "retry") {
    if (value.empty() || value.size() > 18) return;  // 18 digits cannot overflow uint64_t
    uint64_t ms = 0;
    for (const char c : value) {
      if (c < '0' || c > '9') return;
      ms = ms * 10 + static_cast<uint64_t>(c - '0');
    }
    current_.retry_ms = ms;
  }
}

std::string sse_data(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 8);
  out.append("data: ").append(payload).append("\n\n");
  return out;
}

}  // namespace llmd::http
