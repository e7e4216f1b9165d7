#include "sched/request.h"

#include <algorithm>
#include <cctype>

namespace llmd::sched {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string_view find_header(const HeaderList& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (iequals(k, name)) return v;
  }
  return {};
}

void set_header(HeaderList& headers, std::string_view name, std::string value) {
  std::erase_if(headers, [&](const auto& h) { return iequals(h.first, name); });
  std::string lower(name);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  headers.emplace_back(std::move(lower), std::move(value));
}

void LLMRequest::clear() {
  request_id.clear();
  model.clear();
  target_model.clear();
  kind = ApiKind::kCompletions;
  prompt.clear();
  messages.clear();
  tools_json.clear();
  body_json.clear();
  headers.clear();
  priority = 0;
  estimated_tokens = 0;
  max_tokens = -1;
  cache_salt.clear();
  keep_scores = false;
}

}  // namespace llmd::sched
