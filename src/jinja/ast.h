#pragma once
// The parsed form of a template: expression and statement trees. Internal to llmd_jinja.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jinja/value.h"

namespace llmd::jinja::ast {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Arg {
  std::string name;  // empty for a positional argument
  ExprPtr value;
};

struct Expr {
  enum class Kind {
    kLiteral,   // value
    kName,      // name
    kList,      // items
    kTuple,     // items
    kDict,      // items as key, value pairs
    kGetattr,   // a . name
    kGetitem,   // a [ b ]
    kSlice,     // a [ items[0] : items[1] : items[2] ] (null entries are omitted bounds)
    kCall,      // a ( args )
    kFilter,    // a | name ( args ); a may be null inside a filter block
    kTest,      // a is [not] name ( args )
    kNeg,       // - a
    kPos,       // + a
    kNot,       // not a
    kAnd,       // a and b
    kOr,        // a or b
    kBinary,    // a op b (+ - * / // % ** ~)
    kCompare,   // a (ops[i] items[i])*
    kCondExpr,  // b if a else c (c may be null)
  };
  Kind kind;
  int line = 0;
  Value value;
  std::string name;  // names, attributes, filters, tests, binary operators
  bool negated = false;
  ExprPtr a, b, c;
  std::vector<ExprPtr> items;
  std::vector<std::string> ops;
  std::vector<Arg> args;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// An assignment target: a name, a tuple of names, or namespace.attribute.
struct Target {
  std::vector<std::string> names;  // one name, or several for tuple unpacking
  bool tuple = false;
  std::string attribute;  // set for ns.attr
};

struct MacroParam {
  std::string name;
  ExprPtr default_value;
};

struct Stmt {
  enum class Kind { kText, kPrint, kIf, kFor, kSet, kSetBlock, kMacro, kBreak, kContinue, kScope };
  Kind kind;
  int line = 0;
  std::string text;  // kText; macro name for kMacro
  ExprPtr expr;      // kPrint, kSet value, kFor iterable, kFor filter is `cond`
  ExprPtr cond;
  std::vector<std::pair<ExprPtr, Body>> branches;  // kIf: (condition, body) in order
  Body body;                                       // kFor, kSetBlock, kMacro, kScope bodies
  Body else_body;                                  // kIf, kFor
  Target target;                                   // kFor, kSet, kSetBlock
  std::vector<MacroParam> params;                  // kMacro
};

}  // namespace llmd::jinja::ast
