#pragma once
// The simulator's built-in pseudo-tokenizer: deterministic, needs no files, and behaves like a BPE
// tokenizer where routing cares: identical text prefixes give identical token prefixes, and English
// text averages about four characters per token.
//
// Rules, applied greedily left to right (each decision looks at most one character ahead, which is
// what makes tokenization prefix-stable: only the last token of a prefix can differ):
//   - a space followed by a letter or digit joins the word that follows (" hello" → " hell", "o");
//   - letters are cut into pieces of up to 4, digits into pieces of up to 3;
//   - any other ASCII character (punctuation, newline, a space before punctuation) is one token;
//   - each non-ASCII UTF-8 code point is one token; an invalid byte is one token.
// Token ids encode their text, so detokenization is exact and needs no vocabulary:
//   ASCII piece: bit 28 = leading space, bits 0..27 = up to four 7-bit characters (first lowest);
//   code point:  (1 << 29) | cp;   invalid byte b:  (1 << 29) | (0x110000 + b).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace llmd::sim {

class PseudoTokenizer {
 public:
  void encode(std::string_view text, std::vector<uint32_t>& out) const;
  std::vector<uint32_t> encode(std::string_view text) const {
    std::vector<uint32_t> out;
    encode(text, out);
    return out;
  }
  // Appends the text of `id`; false for an id this tokenizer never produces (nothing appended).
  bool append_token(uint32_t id, std::string& out) const;
  std::string decode(std::span<const uint32_t> ids) const;
  static bool valid(uint32_t id);
};

struct ChatMessage {
  std::string role;
  std::string content;
};

// A ChatML-style template ("<|im_start|>role\ncontent<|im_end|>\n", then "<|im_start|>assistant\n"
// when `add_generation_prompt`): a conversation's rendering is a prefix of the next turn's, so
// multi-turn chats hit the prefix cache as they do on vLLM.
std::string render_chat(std::span<const ChatMessage> messages, bool add_generation_prompt);

// The deterministic filler the simulator "generates": token i of every completion is
// filler_tokens()[i % size].
const std::vector<uint32_t>& filler_tokens();

}  // namespace llmd::sim
