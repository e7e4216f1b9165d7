#include "jinja/template.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include <fmt/format.h>
#include <utf8proc.h>

#include "jinja/builtins.h"
#include "jinja/parser.h"

namespace llmd::jinja {

struct Template::Parsed {
  ast::Body body;
};

Result<Template> Template::parse(std::string_view source, const Options& options) {
  auto body = parse_template(source, options);
  if (!body) return body.error();
  auto parsed = std::make_shared<Parsed>();
  parsed->body = std::move(*body);
  Template t;
  t.parsed_ = std::move(parsed);
  return t;
}

namespace {

using ast::Expr;
using ast::Stmt;

// Bounds that keep a hostile template from exhausting memory or stack.
constexpr size_t kMaxOutputBytes = 16u * 1024 * 1024;
constexpr int kMaxCallDepth = 64;
// Namespaces are the only values that outlive a statement, so they are where nesting is bounded:
// str(), tojson and destruction recurse once per level. Request JSON nests at most 64 levels.
constexpr uint32_t kMaxNamespaceNesting = 128;
// Statements executed per render; chat templates run a few per message.
constexpr uint64_t kMaxSteps = 4u * 1000 * 1000;

Error undefined_error(const Value& v) {
  return make_error(ErrorCode::kInvalidArgument, v.hint().empty() ? "undefined value" : v.hint());
}

class Scope {
 public:
  explicit Scope(Scope* parent) : parent_(parent) {}
  const Value* find(const std::string& name) const {
    for (const Scope* s = this; s != nullptr; s = s->parent_) {
      auto it = s->vars_.find(name);
      if (it != s->vars_.end()) return &it->second;
    }
    return nullptr;
  }
  void set(const std::string& name, Value v) { vars_[name] = std::move(v); }

 private:
  std::unordered_map<std::string, Value> vars_;
  Scope* parent_;
};

enum class Flow { kNormal, kBreak, kContinue };

class Renderer {
 public:
  explicit Renderer(const Value::Dict& variables) : root_(nullptr) {
    for (const auto& kv : variables) {
      if (kv.first.is_string()) root_.set(kv.first.as_string(), kv.second);
    }
  }

  Result<std::string> render(const ast::Body& body) {
    std::string out;
    auto r = exec_body(body, root_, out);
    if (!r) return r.error();
    return out;
  }

 private:
  Result<Flow> exec_body(const ast::Body& body, Scope& scope, std::string& out) {
    for (const auto& s : body) {
      if (++steps_ > kMaxSteps) {
        return make_error(ErrorCode::kResourceExhausted, "template executed too many statements");
      }
      auto r = exec(*s, scope, out);
      if (!r) return r;
      if (*r != Flow::kNormal) return r;
      if (out.size() > kMaxOutputBytes)
        return make_error(ErrorCode::kResourceExhausted, "template output too large");
    }
    return Flow::kNormal;
  }

  Result<void> assign(const ast::Target& t, const Value& v, Scope& scope) {
    if (!t.attribute.empty()) {
      const Value* ns = scope.find(t.names[0]);
      if (ns == nullptr || !ns->is_namespace()) {
        return make_error(ErrorCode::kInvalidArgument, "cannot assign attribute on non-namespace object");
      }
      // A namespace inside a namespace could make a cycle (`{% set ns.self = ns %}`), which
      // shared ownership never frees and str() never finishes. Jinja allows it; chat templates
      // have no use for it.
      if (v.is_namespace() || v.holds_namespace()) {
        return make_error(ErrorCode::kInvalidArgument, "a namespace attribute cannot hold a namespace");
      }
      if (v.nesting() > kMaxNamespaceNesting) {
        return make_error(ErrorCode::kResourceExhausted,
                          fmt::format("a namespace attribute cannot nest deeper than {} levels, got {}",
                                      kMaxNamespaceNesting, v.nesting()));
      }
      auto& items = ns->namespace_items();
      for (auto& kv : items) {
        if (kv.first.is_string() && kv.first.as_string() == t.attribute) {
          kv.second = v;
          return {};
        }
      }
      items.emplace_back(Value::string(t.attribute), v);
      return {};
    }
    if (!t.tuple) {
      scope.set(t.names[0], v);
      return {};
    }
    auto items = iterate(v);
    if (!items) return items.error();
    if (items->size() != t.names.size()) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("cannot unpack {} values into {} names", items->size(), t.names.size()));
    }
    for (size_t i = 0; i < t.names.size(); ++i) scope.set(t.names[i], (*items)[i]);
    return {};
  }

  Result<Flow> exec(const Stmt& s, Scope& scope, std::string& out) {
    switch (s.kind) {
      case Stmt::Kind::kText:
        out += s.text;
        return Flow::kNormal;
      case Stmt::Kind::kPrint: {
        auto v = eval(*s.expr, scope);
        if (!v) return v.error();
        out += v->str();
        return Flow::kNormal;
      }
      case Stmt::Kind::kIf: {
        for (const auto& [cond, body] : s.branches) {
          auto c = eval(*cond, scope);
          if (!c) return c.error();
          if (c->truthy()) return exec_body(body, scope, out);
        }
        return exec_body(s.else_body, scope, out);
      }
      case Stmt::Kind::kFor:
        return exec_for(s, scope, out);
      case Stmt::Kind::kSet: {
        auto v = eval(*s.expr, scope);
        if (!v) return v.error();
        auto r = assign(s.target, *v, scope);
        if (!r) return r.error();
        return Flow::kNormal;
      }
      case Stmt::Kind::kSetBlock: {
        std::string captured;
        Scope inner(&scope);
        auto r = exec_body(s.body, inner, captured);
        if (!r) return r;
        auto a = assign(s.target, Value::string(std::move(captured)), scope);
        if (!a) return a.error();
        return Flow::kNormal;
      }
      case Stmt::Kind::kMacro:
        scope.set(s.text, make_macro(s));
        return Flow::kNormal;
      case Stmt::Kind::kBreak:
        return Flow::kBreak;
      case Stmt::Kind::kContinue:
        return Flow::kContinue;
      case Stmt::Kind::kScope: {
        Scope inner(&scope);
        return exec_body(s.body, inner, out);
      }
    }
    return Flow::kNormal;
  }

  Result<Flow> exec_for(const Stmt& s, Scope& scope, std::string& out) {
    auto iterable = eval(*s.expr, scope);
    if (!iterable) return iterable.error();
    auto all = iterate(*iterable);
    if (!all) return all.error();
    std::vector<Value> items;
    if (s.cond) {
      for (const auto& item : *all) {
        Scope probe(&scope);
        auto a = assign(s.target, item, probe);
        if (!a) return a.error();
        auto c = eval(*s.cond, probe);
        if (!c) return c.error();
        if (c->truthy()) items.push_back(item);
      }
    } else {
      items = std::move(*all);
    }
    if (items.empty()) return exec_body(s.else_body, scope, out);
    const auto n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
      if (++steps_ > kMaxSteps) {
        return make_error(ErrorCode::kResourceExhausted, "template executed too many statements");
      }
      Scope iter_scope(&scope);
      auto a = assign(s.target, items[static_cast<size_t>(i)], iter_scope);
      if (!a) return a.error();
      Value::Dict loop;
      loop.emplace_back(Value::string("index"), Value::integer(i + 1));
      loop.emplace_back(Value::string("index0"), Value::integer(i));
      loop.emplace_back(Value::string("revindex"), Value::integer(n - i));
      loop.emplace_back(Value::string("revindex0"), Value::integer(n - i - 1));
      loop.emplace_back(Value::string("first"), Value::boolean(i == 0));
      loop.emplace_back(Value::string("last"), Value::boolean(i == n - 1));
      loop.emplace_back(Value::string("length"), Value::integer(n));
      loop.emplace_back(Value::string("depth"), Value::integer(1));
      loop.emplace_back(Value::string("depth0"), Value::integer(0));
      loop.emplace_back(Value::string("previtem"), i > 0 ? items[static_cast<size_t>(i - 1)]
                                                         : Value::undefined("there is no previous item"));
      loop.emplace_back(Value::string("nextitem"), i + 1 < n ? items[static_cast<size_t>(i + 1)]
                                                             : Value::undefined("there is no next item"));
      loop.emplace_back(Value::string("cycle"),
                        Value::callable(
                            [i](CallArgs& args) -> Result<Value> {
                              if (args.positional.empty()) {
                                return make_error(ErrorCode::kInvalidArgument, "no items for cycling given");
                              }
                              return args.positional[static_cast<size_t>(i) % args.positional.size()];
                            },
                            "cycle"));
      iter_scope.set("loop", Value::make_namespace(std::move(loop)));
      auto r = exec_body(s.body, iter_scope, out);
      if (!r) return r;
      if (*r == Flow::kBreak) break;
    }
    return Flow::kNormal;
  }

  Value make_macro(const Stmt& s) {
    const Stmt* node = &s;
    return Value::callable(
        [this, node](CallArgs& args) -> Result<Value> {
          if (depth_ >= kMaxCallDepth)
            return make_error(ErrorCode::kResourceExhausted, "macro recursion too deep");
          Scope scope(&root_);
          size_t pos = 0;
          for (const auto& p : node->params) {
            const Value* given = nullptr;
            if (pos < args.positional.size()) {
              given = &args.positional[pos++];
            } else {
              for (const auto& kw : args.keyword) {
                if (kw.first == p.name) given = &kw.second;
              }
            }
            if (given != nullptr) {
              scope.set(p.name, *given);
            } else if (p.default_value) {
              auto d = eval(*p.default_value, scope);
              if (!d) return d.error();
              scope.set(p.name, *d);
            } else {
              scope.set(p.name, Value::undefined(fmt::format("parameter '{}' was not provided", p.name)));
            }
          }
          if (pos < args.positional.size()) {
            return make_error(ErrorCode::kInvalidArgument,
                              fmt::format("macro '{}' takes not more than {} argument(s)", node->text,
                                          node->params.size()));
          }
          std::string out;
          ++depth_;
          auto r = exec_body(node->body, scope, out);
          --depth_;
          if (!r) return r.error();
          return Value::string(std::move(out));
        },
        s.text);
  }

  Result<CallArgs> eval_args(const std::vector<ast::Arg>& args, Scope& scope) {
    CallArgs out;
    for (const auto& a : args) {
      auto v = eval(*a.value, scope);
      if (!v) return v.error();
      if (a.name.empty()) {
        out.positional.push_back(std::move(*v));
      } else {
        out.keyword.emplace_back(a.name, std::move(*v));
      }
    }
    return out;
  }

  Result<Value> eval(const Expr& e, Scope& scope) {
    switch (e.kind) {
      case Expr::Kind::kLiteral:
        return e.value;
      case Expr::Kind::kName: {
        if (const Value* v = scope.find(e.name)) return *v;
        if (auto g = global(e.name)) return *g;
        return Value::undefined(fmt::format("'{}' is undefined", e.name));
      }
      case Expr::Kind::kList:
      case Expr::Kind::kTuple: {
        Value::List items;
        for (const auto& x : e.items) {
          auto v = eval(*x, scope);
          if (!v) return v;
          items.push_back(std::move(*v));
        }
        return Value::list(std::move(items), e.kind == Expr::Kind::kTuple);
      }
      case Expr::Kind::kDict: {
        Value::Dict items;
        for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
          auto k = eval(*e.items[i], scope);
          if (!k) return k;
          auto v = eval(*e.items[i + 1], scope);
          if (!v) return v;
          bool replaced = false;
          for (auto& kv : items) {
            if (equals(kv.first, *k)) {
              kv.second = *v;
              replaced = true;
            }
          }
          if (!replaced) items.emplace_back(std::move(*k), std::move(*v));
        }
        return Value::dict(std::move(items));
      }
      case Expr::Kind::kGetattr: {
        auto obj = eval(*e.a, scope);
        if (!obj) return obj;
        return get_attribute(*obj, e.name);
      }
      case Expr::Kind::kGetitem: {
        auto obj = eval(*e.a, scope);
        if (!obj) return obj;
        auto key = eval(*e.b, scope);
        if (!key) return key;
        return get_item(*obj, *key);
      }
      case Expr::Kind::kSlice: {
        auto obj = eval(*e.a, scope);
        if (!obj) return obj;
        std::optional<int64_t> bounds[3];
        for (int k = 0; k < 3; ++k) {
          if (!e.items[static_cast<size_t>(k)]) continue;
          auto b = eval(*e.items[static_cast<size_t>(k)], scope);
          if (!b) return b;
          if (b->is_none()) continue;
          if (!b->is_int() && !b->is_bool()) {
            return make_error(ErrorCode::kInvalidArgument, "slice indices must be integers or None");
          }
          bounds[k] = b->as_int();
        }
        return slice(*obj, bounds[0], bounds[1], bounds[2]);
      }
      case Expr::Kind::kCall: {
        auto fn = eval(*e.a, scope);
        if (!fn) return fn;
        auto args = eval_args(e.args, scope);
        if (!args) return args.error();
        if (fn->is_undefined()) return undefined_error(*fn);
        if (!fn->is_callable()) {
          return make_error(ErrorCode::kInvalidArgument,
                            fmt::format("'{}' object is not callable", fn->type_name()));
        }
        return fn->as_callable()(*args);
      }
      case Expr::Kind::kFilter: {
        auto input = eval(*e.a, scope);
        if (!input) return input;
        auto args = eval_args(e.args, scope);
        if (!args) return args.error();
        return apply_filter(e.name, *input, *args);
      }
      case Expr::Kind::kTest: {
        auto input = eval(*e.a, scope);
        if (!input) return input;
        auto args = eval_args(e.args, scope);
        if (!args) return args.error();
        auto r = apply_test(e.name, *input, *args);
        if (!r) return r.error();
        return Value::boolean(*r != e.negated);
      }
      case Expr::Kind::kNeg:
      case Expr::Kind::kPos: {
        auto v = eval(*e.a, scope);
        if (!v) return v;
        if (v->is_undefined()) return undefined_error(*v);
        if (v->is_float())
          return Value::floating(e.kind == Expr::Kind::kNeg ? -v->as_float() : v->as_float());
        if (v->is_int() || v->is_bool()) {
          return Value::integer(e.kind == Expr::Kind::kNeg ? -v->as_int() : v->as_int());
        }
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("bad operand type for unary -: '{}'", v->type_name()));
      }
      case Expr::Kind::kNot: {
        auto v = eval(*e.a, scope);
        if (!v) return v;
        return Value::boolean(!v->truthy());
      }
      case Expr::Kind::kAnd: {
        auto a = eval(*e.a, scope);
        if (!a) return a;
        if (!a->truthy()) return a;
        return eval(*e.b, scope);
      }
      case Expr::Kind::kOr: {
        auto a = eval(*e.a, scope);
        if (!a) return a;
        if (a->truthy()) return a;
        return eval(*e.b, scope);
      }
      case Expr::Kind::kBinary: {
        auto a = eval(*e.a, scope);
        if (!a) return a;
        auto b = eval(*e.b, scope);
        if (!b) return b;
        return binary_op(e.name, *a, *b);
      }
      case Expr::Kind::kCompare: {
        auto left = eval(*e.a, scope);
        if (!left) return left;
        Value lhs = std::move(*left);
        for (size_t i = 0; i < e.ops.size(); ++i) {
          auto right = eval(*e.items[i], scope);
          if (!right) return right;
          auto r = compare(e.ops[i], lhs, *right);
          if (!r) return r.error();
          if (!*r) return Value::boolean(false);
          lhs = std::move(*right);
        }
        return Value::boolean(true);
      }
      case Expr::Kind::kCondExpr: {
        auto c = eval(*e.a, scope);
        if (!c) return c;
        if (c->truthy()) return eval(*e.b, scope);
        if (e.c) return eval(*e.c, scope);
        return Value::undefined(
            "the inline if-expression evaluated to false and no else section was defined");
      }
    }
    return make_error(ErrorCode::kInternal, "unknown expression");
  }

  Scope root_;
  int depth_ = 0;
  uint64_t steps_ = 0;
};

}  // namespace

Result<std::string> Template::render(const Value::Dict& variables) const {
  if (!parsed_) return make_error(ErrorCode::kInvalidArgument, "rendering a template that was not parsed");
  Renderer r(variables);
  return r.render(parsed_->body);
}

}  // namespace llmd::jinja
