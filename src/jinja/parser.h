#pragma once
// Lexer and parser for the Jinja subset: template source to statement tree. Internal to llmd_jinja.

#include <string_view>

#include "common/error.h"
#include "jinja/ast.h"
#include "jinja/template.h"

namespace llmd::jinja {

Result<ast::Body> parse_template(std::string_view source, const Options& options);

}  // namespace llmd::jinja
