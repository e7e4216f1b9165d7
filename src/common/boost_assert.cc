// Boost's assertion handler. Debug builds define BOOST_ENABLE_ASSERT_DEBUG_HANDLER (see
// cmake/LlmdTargets.cmake), so BOOST_ASSERT failures arrive here; release builds (NDEBUG) compile
// them out. Every failure aborts as assert() would, except one assertion Boost itself has since
// corrected, which would otherwise let a client abort a debug or sanitizer build.

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

bool ends_with(const char* s, const char* suffix) {
  const size_t n = std::strlen(s);
  const size_t m = std::strlen(suffix);
  return n >= m && std::strcmp(s + n - m, suffix) == 0;
}

// Beast 1.81 asserts that a chunked body's buffer holds 5 bytes once the final chunk "0\r\n" has
// been seen, but its terminating CRLF may arrive a byte at a time ("0\r\n" then "\r" then "\n"):
// the code after the assertion handles that and asks for more. Beast 1.86 relaxed the assertion
// (boostorg/beast pull request 2861). Found by http_request_fuzz.
bool known_false_alarm(const char* expr, const char* function, const char* file) {
  return std::strcmp(expr, "n >= 5") == 0 && ends_with(file, "boost/beast/http/impl/basic_parser.ipp") &&
         std::strstr(function, "parse_chunk_header") != nullptr;
}

}  // namespace

namespace boost {

void assertion_failed_msg(const char* expr, const char* msg, const char* function, const char* file,
                          long line) {
  if (known_false_alarm(expr, function, file)) return;
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed%s%s\n", file, line, function, expr, msg ? ": " : "",
               msg ? msg : "");
  std::abort();
}

void assertion_failed(const char* expr, const char* function, const char* file, long line) {
  assertion_failed_msg(expr, nullptr, function, file, line);
}

}  // namespace boost
