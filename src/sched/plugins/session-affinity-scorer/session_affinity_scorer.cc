#include "sched/plugins/session-affinity-scorer/session_affinity_scorer.h"

#include <array>

namespace llmd::sched::plugins {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int decode_char(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

// Boost has a base64 codec only in beast::detail, which is not a public API; this one is small.
std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = static_cast<uint8_t>(in[i]) << 16 | static_cast<uint8_t>(in[i + 1]) << 8 |
                       static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (const size_t rest = in.size() - i; rest > 0) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (rest == 2) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  if (in.size() % 4 != 0) return false;
  for (size_t i = 0; i < in.size(); i += 4) {
    std::array<int, 4> d{};
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=') {
        // Padding only in the last quantum's last two positions.
        if (i + 4 != in.size() || k < 2) return false;
        ++pad;
        d[k] = 0;
        continue;
      }
      if (pad > 0) return false;
      d[k] = decode_char(c);
      if (d[k] < 0) return false;
    }
    const uint32_t v = static_cast<uint32_t>(d[0]) << 18 | static_cast<uint32_t>(d[1]) << 12 |
                       static_cast<uint32_t>(d[2]) << 6 | static_cast<uint32_t>(d[3]);
    out += static_cast<char>(v >> 16);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(v & 0xff);
  }
  return true;
}

void decode(config::MapReader& m, SessionAffinityParams& p) {
  std::string strategy;
  if (m.read("strategy", strategy)) {
    if (strategy == "session_id") {
      m.error("strategy", "session_id is not supported by this build; use encoded_endpoint_header");
    } else if (strategy != "encoded_endpoint_header") {
      m.error("strategy", "unknown value \"" + strategy + "\"; expected one of: encoded_endpoint_header");
    }
  }
  m.read("profileName", p.profile_name);
}

SessionAffinityScorer::SessionAffinityScorer(TypedName tn, SessionAffinityParams params, const PluginArgs&)
    : Plugin(std::move(tn)),
      params_(std::move(params)),
      header_(params_.profile_name.empty() ? std::string(kSessionTokenHeader)
                                           : std::string(kSessionTokenHeader) + "-" + params_.profile_name) {}

void SessionAffinityScorer::score(const SchedulingContext& ctx, std::span<const Candidate> candidates,
                                  std::span<double> out) const {
  const std::string_view token = ctx.request.header(header_);
  if (token.empty()) return;
  std::string id;
  if (!base64_decode(token, id)) return;
  for (size_t i = 0; i < candidates.size(); ++i) out[i] = candidates[i].endpoint->id == id ? 1.0 : 0.0;
}

void SessionAffinityScorer::on_response_received(const LLMRequest&, const SchedulingResult& result,
                                                 HeaderList& response_headers) const {
  const ProfileRun* run = params_.profile_name.empty() ? result.primary() : result.find(params_.profile_name);
  if (run == nullptr || !run->ok || run->targets.empty()) return;
  set_header(response_headers, header_, base64_encode(run->targets.front().endpoint->id));
}

Result<std::shared_ptr<Plugin>> create_session_affinity_scorer(const PluginArgs& args) {
  return make_plugin<SessionAffinityScorer, SessionAffinityParams>(args);
}

}  // namespace llmd::sched::plugins
