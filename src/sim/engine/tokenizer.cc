#include "sim/engine/tokenizer.h"

#include <array>

namespace llmd::sim {

namespace {

constexpr uint32_t kSpaceFlag = 1u << 28;
constexpr uint32_t kCodePointFlag = 1u << 29;
constexpr uint32_t kInvalidByteBase = 0x110000;

// Character classes of the ASCII rules: 0 other, 1 letter, 2 digit (a table: encode is a per-byte
// loop over whole prompts).
constexpr uint8_t kOther = 0, kLetter = 1, kDigit = 2;
constexpr std::array<uint8_t, 256> kClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = kLetter;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = kLetter;
  for (int c = '0'; c <= '9'; ++c) t[c] = kDigit;
  return t;
}();
uint8_t char_class(char c) { return kClass[static_cast<uint8_t>(c)]; }

// Decodes one UTF-8 code point at text[i]; returns its length, or 0 if the sequence is invalid.
size_t utf8_decode(std::string_view text, size_t i, uint32_t& cp) {
  const auto b0 = static_cast<uint8_t>(text[i]);
  size_t len = 0;
  uint32_t min = 0;
  if ((b0 & 0xe0) == 0xc0) {
    len = 2;
    cp = b0 & 0x1f;
    min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3;
    cp = b0 & 0x0f;
    min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4;
    cp = b0 & 0x07;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<uint8_t>(text[i + k]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

}  // namespace

void PseudoTokenizer::encode(std::string_view text, std::vector<uint32_t>& out) const {
  out.reserve(out.size() + text.size() / 3 + 1);
  size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<uint8_t>(text[i]);
    if (b >= 0x80 || b == 0) {
      uint32_t cp = 0;
      const size_t len = b == 0 ? 1 : utf8_decode(text, i, cp);
      if (len == 0) {
        out.push_back(kCodePointFlag | (kInvalidByteBase + b));
        ++i;
      } else {
        out.push_back(kCodePointFlag | cp);
        i += len;
      }
      continue;
    }
    uint32_t id = 0;
    if (text[i] == ' ' && i + 1 < text.size() && char_class(text[i + 1]) != kOther) {
      id = kSpaceFlag;
      ++i;
    }
    const uint8_t cls = char_class(text[i]);
    const size_t max = cls == kLetter ? 4 : cls == kDigit ? 3 : 1;
    size_t n = 0;
    do {
      id |= static_cast<uint32_t>(static_cast<uint8_t>(text[i])) << (7 * n);
      ++i;
      ++n;
    } while (n < max && i < text.size() && char_class(text[i]) == cls);
    out.push_back(id);
  }
}

bool PseudoTokenizer::valid(uint32_t id) {
  if (id & kCodePointFlag) {
    const uint32_t v = id & ~kCodePointFlag;
    if (v <= 0x10ffff) return !(v >= 0xd800 && v <= 0xdfff);
    return v >= kInvalidByteBase + 0x80 && v < kInvalidByteBase + 0x100;
  }
  if (id >= kCodePointFlag || (id & ~kSpaceFlag) == 0) return false;
  // Characters are packed from the lowest bits with no gaps.
  uint32_t chars = id & ~kSpaceFlag;
  while (chars != 0 && (chars & 0x7f) != 0) chars >>= 7;
  return chars == 0;
}

bool PseudoTokenizer::append_token(uint32_t id, std::string& out) const {
  if (!valid(id)) return false;
  if (id & kCodePointFlag) {
    const uint32_t v = id & ~kCodePointFlag;
    if (v >= kInvalidByteBase) {
      out.push_back(static_cast<char>(v - kInvalidByteBase));
    } else {
      append_utf8(v, out);
    }
    return true;
  }
  if (id & kSpaceFlag) out.push_back(' ');
  for (uint32_t chars = id & ~kSpaceFlag; chars != 0; chars >>= 7)
    out.push_back(static_cast<char>(chars & 0x7f));
  return true;
}

std::string PseudoTokenizer::decode(std::span<const uint32_t> ids) const {
  std::string out;
  out.reserve(ids.size() * 4);
  for (uint32_t id : ids) append_token(id, out);
  return out;
}

std::string render_chat(std::span<const ChatMessage> messages, bool add_generation_prompt) {
  std::string out;
  for (const auto& m : messages) {
    out += "<|im_start|>";
    out += m.role;
    out += '\n';
    out += m.content;
    out += "<|im_end|>\n";
  }
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

const std::vector<uint32_t>& filler_tokens() {
  static const std::vector<uint32_t> tokens = PseudoTokenizer().encode(
      "The simulated model answers with this fixed passage so that every run is reproducible. "
      "Scheduling, batching and caching decide how fast the words arrive, not what they say. "
      "Routers, gateways and autoscalers can be tested against it without any accelerator, "
      "because the timing follows the engine's iteration model step by step. ");
  return tokens;
}

}  // namespace llmd::sim
