#include "tokenizer/unicode.h"

#include <cstdlib>
#include <string>

#include <utf8proc.h>

#include <gtest/gtest.h>

namespace llmd::tokenizer {
namespace {

std::string lossy(std::string_view s) {
  std::string out;
  append_lossy_utf8(s, out);
  return out;
}

const std::string kFffd = "\xEF\xBF\xBD";

TEST(UnicodeTest, ValidUtf8) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii text that is longer than eight bytes"));
  EXPECT_TRUE(is_valid_utf8("h\xC3\xA9llo \xE6\x97\xA5 \xF0\x9F\x99\x82"));
  EXPECT_FALSE(is_valid_utf8("\x80"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("abc\xE2\x82"));       // truncated
}

// The WHATWG decoder's replacement, as Node's Buffer#toString and Rust's from_utf8_lossy apply it:
// one U+FFFD per maximal ill-formed subsequence.
TEST(UnicodeTest, LossyRepairReplacesMaximalSubparts) {
  EXPECT_EQ(lossy("ok"), "ok");
  EXPECT_EQ(lossy("\x80"), kFffd);
  EXPECT_EQ(lossy("\xC0\xAF"), kFffd + kFffd);
  EXPECT_EQ(lossy("\xED\xA0\x80"), kFffd + kFffd + kFffd);
  EXPECT_EQ(lossy("\xE2\x82"), kFffd);
  EXPECT_EQ(lossy("\xE2\x82x"), kFffd + "x");
  EXPECT_EQ(lossy("\xF0\x9F\x98"), kFffd);
  EXPECT_EQ(lossy("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);
  EXPECT_EQ(lossy("\xE2\x28\xA1"), kFffd + "(" + kFffd);
  EXPECT_EQ(lossy("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(lossy("\xFE\xFF"), kFffd + kFffd);
}

TEST(UnicodeTest, CharacterClasses) {
  EXPECT_TRUE(is_white_space(0x85));
  EXPECT_TRUE(is_white_space(0x3000));
  EXPECT_FALSE(is_white_space(0x200B));
  EXPECT_FALSE(is_white_space(0x1C));
  EXPECT_TRUE(is_python_space(0x1C));
  EXPECT_TRUE(is_numeric(0x0663));  // ARABIC-INDIC DIGIT THREE (Nd)
  EXPECT_TRUE(is_numeric(0x00BD));  // VULGAR FRACTION ONE HALF (No)
  EXPECT_FALSE(is_numeric('a'));
  EXPECT_TRUE(is_punctuation('$'));  // ASCII punctuation although a symbol in Unicode
  EXPECT_TRUE(is_punctuation(0x3002));
  EXPECT_FALSE(is_punctuation(0x2211));  // N-ARY SUMMATION is a math symbol
  EXPECT_TRUE(is_word_char(0x0301));     // combining mark
  EXPECT_TRUE(is_word_char(0x24B6));     // circled letter (Other_Alphabetic)
  EXPECT_FALSE(is_word_char('-'));
}

std::string whole_string_nfc(const std::string& s) {
  utf8proc_uint8_t* dst = nullptr;
  const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                              static_cast<utf8proc_ssize_t>(s.size()), &dst,
                              static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  std::string out(reinterpret_cast<char*>(dst), static_cast<size_t>(n));
  std::free(dst);
  return out;
}

// Normalizing run by run (cut before ASCII characters) equals normalizing the whole string.
TEST(UnicodeTest, NormalizationByRunsEqualsWholeString) {
  const std::string cases[] = {"e\xCC\x81 cafe\xCC\x81!",
                               "A\xCC\x8A\xCC\xA3x",
                               "\xEF\xAC\x81 plain",
                               "no change",
                               "\xE1\x84\x80\xE1\x85\xA1 hangul jamo",
                               "a\xCC\xA3\xCC\x87q",
                               "x\xCC\x81"};
  for (const auto& s : cases) {
    std::string out;
    append_normalized(s, NormalForm::kNfc, out);
    EXPECT_EQ(out, whole_string_nfc(s)) << s;
  }
  std::string nfkc;
  append_normalized("\xEF\xAC\x81 \xE2\x91\xA0", NormalForm::kNfkc, nfkc);
  EXPECT_EQ(nfkc, "fi 1");
  std::string nfd;
  append_normalized("\xC3\xA9", NormalForm::kNfd, nfd);
  EXPECT_EQ(nfd, "e\xCC\x81");
}

TEST(UnicodeTest, LowercaseUsesFullMapping) {
  std::string out;
  append_lowercase("HeLLo \xC4\xB0 \xCE\xA3\xCE\xA3 \xC3\x84", out);
  EXPECT_EQ(out, "hello i\xCC\x87 \xCF\x83\xCF\x83 \xC3\xA4");  // no final-sigma rule, per character
}

}  // namespace
}  // namespace llmd::tokenizer
