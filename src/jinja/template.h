#pragma once
// A Jinja2 template engine for the subset that Hugging Face chat templates use (see
// docs/tokenizer.md for the supported statements, expressions, filters and tests). Output equals
// Jinja2's for that subset; anything outside it fails at parse or render time with an error.
// A parsed Template is immutable and may be rendered from several threads at once.

#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "jinja/value.h"

namespace llmd::jinja {

struct Options {
  bool trim_blocks = false;            // drop the first newline after a block tag
  bool lstrip_blocks = false;          // strip spaces before a block tag at the start of a line
  bool keep_trailing_newline = false;  // keep a single trailing newline of the source
};

namespace ast {
struct Stmt;
}

class Template {
 public:
  static Result<Template> parse(std::string_view source, const Options& options = {});

  // Renders with `variables` as the template's context. Besides them, the globals range,
  // namespace and dict are defined. Callables in `variables` (such as raise_exception) may fail;
  // their error ends rendering.
  Result<std::string> render(const Value::Dict& variables) const;

 private:
  struct Parsed;
  std::shared_ptr<const Parsed> parsed_;
};

}  // namespace llmd::jinja
