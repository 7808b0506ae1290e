// The tree-walking renderer. Scopes follow Jinja2: the template's top level is one scope; a for loop opens a
// child scope (so `set` inside a loop does not leak out, which is why templates use namespace()); if blocks
// share their parent's scope; a macro call opens a child of the scope the macro was defined in.
#include "chat/jinja_template.h"

#include <unordered_map>

#include "chat/jinja_ast.h"
#include "chat/jinja_builtins.h"

namespace fm::jinja {

namespace {

// An error with the byte offset of the innermost expression or statement that failed.
struct Located {
  size_t pos;
  std::string msg;
  bool raised;  // raise_exception() from the template itself
};

struct Scope {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Scope> parent;

  const Value* Lookup(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent.get()) {
      auto it = s->vars.find(name);
      if (it != s->vars.end()) return &it->second;
    }
    return nullptr;
  }
};
using ScopePtr = std::shared_ptr<Scope>;

constexpr int kMaxCallDepth = 200;

class Renderer {
 public:
  enum class Flow { kNormal, kBreak, kContinue };

  Flow Exec(const NodeList& nodes, const ScopePtr& scope, std::string* out) {
    for (const NodePtr& n : nodes) {
      Flow f;
      try {
        f = ExecOne(*n, scope, out);
      } catch (const TemplateRaised& e) {
        throw Located{n->pos, e.what(), true};
      } catch (const RenderError& e) {
        throw Located{n->pos, e.what(), false};
      }
      if (f != Flow::kNormal) return f;
    }
    return Flow::kNormal;
  }

 private:
  Flow ExecOne(const Node& n, const ScopePtr& scope, std::string* out) {
    switch (n.kind) {
      case Node::Kind::kText:
        *out += n.text;
        return Flow::kNormal;
      case Node::Kind::kOutput:
        *out += Eval(*n.expr, scope).Str();
        return Flow::kNormal;
      case Node::Kind::kIf:
        for (const auto& [cond, body] : n.branches) {
          if (Eval(*cond, scope).Truthy()) return Exec(body, scope, out);
        }
        return Exec(n.else_body, scope, out);
      case Node::Kind::kFor:
        ExecFor(n, scope, out);
        return Flow::kNormal;
      case Node::Kind::kSet:
        Assign(n, Eval(*n.expr, scope), scope);
        return Flow::kNormal;
      case Node::Kind::kSetBlock: {
        std::string body;
        CheckFlow(Exec(n.body, scope, &body), n);
        Assign(n, Value::String(std::move(body)), scope);
        return Flow::kNormal;
      }
      case Node::Kind::kMacro:
        DefineMacro(n, scope);
        return Flow::kNormal;
      case Node::Kind::kFilterBlock: {
        std::string body;
        CheckFlow(Exec(n.body, scope, &body), n);
        *out += EvalFilterChain(*n.expr, Value::String(std::move(body)), scope).Str();
        return Flow::kNormal;
      }
      case Node::Kind::kBreak:
        return Flow::kBreak;
      case Node::Kind::kContinue:
        return Flow::kContinue;
    }
    return Flow::kNormal;
  }

  void CheckFlow(Flow f, const Node&) {
    if (f != Flow::kNormal) throw RenderError("'break' or 'continue' outside of a for loop");
  }

  void Assign(const Node& n, Value v, const ScopePtr& scope) {
    if (!n.attr.empty()) {
      const Value* ns = scope->Lookup(n.targets[0]);
      if (!ns || !ns->is_namespace()) {
        throw RenderError("cannot assign attribute '" + n.attr + "' on '" + n.targets[0] +
                          "': it is not a namespace() object");
      }
      ns->MutableNamespace().Set(n.attr, std::move(v));
      return;
    }
    if (n.targets.size() == 1) {
      scope->vars[n.targets[0]] = std::move(v);
      return;
    }
    Unpack(n.targets, v, scope.get());
  }

  static void Unpack(const std::vector<std::string>& targets, const Value& v, Scope* scope) {
    if (!v.is_list()) throw RenderError("cannot unpack non-sequence " + v.TypeName());
    const ValueList& items = v.AsList();
    if (items.size() != targets.size()) {
      throw RenderError(items.size() > targets.size()
                            ? "too many values to unpack (expected " + std::to_string(targets.size()) + ")"
                            : "not enough values to unpack (expected " + std::to_string(targets.size()) +
                                  ", got " + std::to_string(items.size()) + ")");
    }
    for (size_t i = 0; i < targets.size(); ++i) scope->vars[targets[i]] = items[i];
  }

  static void Bind(const Node& n, const Value& item, Scope* scope) {
    if (n.targets.size() == 1) {
      scope->vars[n.targets[0]] = item;
    } else {
      Unpack(n.targets, item, scope);
    }
  }

  void ExecFor(const Node& n, const ScopePtr& scope, std::string* out) {
    Value iterable = Eval(*n.expr, scope);
    ValueList items;
    switch (iterable.kind()) {
      case Value::Kind::kUndefined:
        break;
      case Value::Kind::kList:
        items = iterable.AsList();
        break;
      case Value::Kind::kDict:
        for (const auto& [k, v] : iterable.AsDict().items()) items.push_back(Value::String(k));
        break;
      case Value::Kind::kString: {
        std::vector<uint32_t> cps = DecodeUtf8(iterable.AsString());
        for (size_t i = 0; i < cps.size(); ++i) items.push_back(Value::String(EncodeUtf8(cps, i, i + 1)));
        break;
      }
      default:
        throw RenderError("'" + iterable.TypeName() + "' object is not iterable");
    }
    auto loop_scope = std::make_shared<Scope>();
    loop_scope->parent = scope;
    if (n.filter) {  // `for x in xs if cond`: filtered before loop.* is computed, as in Jinja2
      ValueList kept;
      for (const Value& item : items) {
        Bind(n, item, loop_scope.get());
        if (Eval(*n.filter, loop_scope).Truthy()) kept.push_back(item);
      }
      items = std::move(kept);
    }
    const int64_t len = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < len; ++i) {
      ValueDict loop;
      loop.Set("index", Value::Int(i + 1));
      loop.Set("index0", Value::Int(i));
      loop.Set("revindex", Value::Int(len - i));
      loop.Set("revindex0", Value::Int(len - i - 1));
      loop.Set("first", Value::Bool(i == 0));
      loop.Set("last", Value::Bool(i == len - 1));
      loop.Set("length", Value::Int(len));
      loop.Set("depth", Value::Int(1));
      loop.Set("depth0", Value::Int(0));
      loop.Set("previtem", i > 0 ? items[i - 1] : Value::Undefined("there is no previous item"));
      loop.Set("nextitem", i + 1 < len ? items[i + 1] : Value::Undefined("there is no next item"));
      loop.Set("cycle", Value::Callable("cycle", [i](const CallArgs& a) {
                 if (a.args.empty()) throw RenderError("no items for cycling given");
                 return a.args[static_cast<size_t>(i) % a.args.size()];
               }));
      loop_scope->vars["loop"] = Value::Dict(std::move(loop));
      Bind(n, items[i], loop_scope.get());
      Flow f = Exec(n.body, loop_scope, out);
      if (f == Flow::kBreak) break;
    }
    if (len == 0) CheckFlow(Exec(n.else_body, loop_scope, out), n);
  }

  void DefineMacro(const Node& n, const ScopePtr& scope) {
    std::weak_ptr<Scope> defining =
        scope;  // weak: the macro lives in that scope, a strong ref would be a cycle
    const Node* node = &n;
    scope->vars[n.name] = Value::Callable(n.name, [this, node, defining](const CallArgs& a) {
      ScopePtr def = defining.lock();
      if (!def) throw RenderError("macro '" + node->name + "' called after the scope that defined it ended");
      if (++depth_ > kMaxCallDepth) throw RenderError("macro recursion too deep");
      auto local = std::make_shared<Scope>();
      local->parent = def;
      ValueList varargs;
      for (size_t i = 0; i < a.args.size(); ++i) {
        if (i < node->params.size()) {
          local->vars[node->params[i].first] = a.args[i];
        } else {
          varargs.push_back(a.args[i]);
        }
      }
      ValueDict kwargs;
      for (const auto& [k, v] : a.kwargs) {
        bool is_param = false;
        for (const auto& p : node->params) is_param = is_param || p.first == k;
        if (is_param) {
          local->vars[k] = v;
        } else {
          kwargs.Set(k, v);
        }
      }
      for (const auto& [param, def_expr] : node->params) {
        if (local->vars.count(param)) continue;
        local->vars[param] = def_expr ? Eval(*def_expr, local)
                                      : Value::Undefined("parameter '" + param + "' was not provided");
      }
      local->vars["varargs"] = Value::List(std::move(varargs));
      local->vars["kwargs"] = Value::Dict(std::move(kwargs));
      std::string body;
      Flow f = Exec(node->body, local, &body);
      --depth_;
      if (f != Flow::kNormal) throw RenderError("'break' or 'continue' outside of a for loop");
      return Value::String(std::move(body));
    });
  }

  CallArgs EvalArgs(const Expr& e, size_t first_child, const ScopePtr& scope) {
    CallArgs a;
    for (size_t i = first_child; i < e.children.size(); ++i) a.args.push_back(Eval(*e.children[i], scope));
    for (const auto& [k, v] : e.kwargs) a.kwargs.emplace_back(k, Eval(*v, scope));
    return a;
  }

  // Applies a chain of kFilter nodes whose innermost operand is null to `operand` ({% filter %} blocks).
  Value EvalFilterChain(const Expr& e, Value operand, const ScopePtr& scope) {
    Value inner =
        e.children[0] ? EvalFilterChain(*e.children[0], std::move(operand), scope) : std::move(operand);
    return ApplyFilter(e.name, inner, EvalArgs(e, 1, scope));
  }

 public:
  Value Eval(const Expr& e, const ScopePtr& scope) {
    try {
      return EvalInner(e, scope);
    } catch (const TemplateRaised& err) {
      throw Located{e.pos, err.what(), true};
    } catch (const RenderError& err) {
      throw Located{e.pos, err.what(), false};
    }
  }

 private:
  Value EvalInner(const Expr& e, const ScopePtr& scope) {
    switch (e.kind) {
      case Expr::Kind::kLiteral:
        return e.literal;
      case Expr::Kind::kName: {
        const Value* v = scope->Lookup(e.name);
        return v ? *v : Value::Undefined("'" + e.name + "' is undefined");
      }
      case Expr::Kind::kList:
      case Expr::Kind::kTuple: {
        ValueList items;
        for (const auto& c : e.children) items.push_back(Eval(*c, scope));
        return Value::List(std::move(items));
      }
      case Expr::Kind::kDict: {
        ValueDict d;
        for (size_t i = 0; i + 1 < e.children.size(); i += 2) {
          Value k = Eval(*e.children[i], scope);
          d.Set(k.Str(), Eval(*e.children[i + 1], scope));
        }
        return Value::Dict(std::move(d));
      }
      case Expr::Kind::kGetAttr:
        return GetAttr(Eval(*e.children[0], scope), e.name);
      case Expr::Kind::kGetItem:
        return GetItem(Eval(*e.children[0], scope), Eval(*e.children[1], scope));
      case Expr::Kind::kSlice: {
        Value obj = Eval(*e.children[0], scope);
        auto part = [&](size_t i) { return e.children[i] ? Eval(*e.children[i], scope) : Value(); };
        return SliceValue(obj, part(1), part(2), part(3));
      }
      case Expr::Kind::kCall: {
        Value fn = Eval(*e.children[0], scope);
        CallArgs a = EvalArgs(e, 1, scope);
        fn.ThrowIfUndefined();
        if (!fn.is_callable()) throw RenderError("'" + fn.TypeName() + "' object is not callable");
        return fn.Call(a);
      }
      case Expr::Kind::kFilter:
        return ApplyFilter(e.name, Eval(*e.children[0], scope), EvalArgs(e, 1, scope));
      case Expr::Kind::kTest: {
        bool r = ApplyTest(e.name, Eval(*e.children[0], scope), EvalArgs(e, 1, scope));
        return Value::Bool(e.negated ? !r : r);
      }
      case Expr::Kind::kNeg:
        return Negate(Eval(*e.children[0], scope));
      case Expr::Kind::kPos: {
        Value v = Eval(*e.children[0], scope);
        v.ThrowIfUndefined();
        if (!v.is_number()) throw RenderError("bad operand type for unary +: '" + v.TypeName() + "'");
        return v.is_bool() ? Value::Int(v.AsInt()) : v;
      }
      case Expr::Kind::kNot:
        return Value::Bool(!Eval(*e.children[0], scope).Truthy());
      case Expr::Kind::kBinary:
        return BinaryOp(e.name, Eval(*e.children[0], scope), Eval(*e.children[1], scope));
      case Expr::Kind::kAnd: {
        Value a = Eval(*e.children[0], scope);
        return a.Truthy() ? Eval(*e.children[1], scope) : a;
      }
      case Expr::Kind::kOr: {
        Value a = Eval(*e.children[0], scope);
        return a.Truthy() ? a : Eval(*e.children[1], scope);
      }
      case Expr::Kind::kCompare: {
        Value left = Eval(*e.children[0], scope);
        for (size_t i = 0; i < e.ops.size(); ++i) {
          Value right = Eval(*e.children[i + 1], scope);
          if (!CompareOp(e.ops[i], left, right)) return Value::Bool(false);
          left = std::move(right);
        }
        return Value::Bool(true);
      }
      case Expr::Kind::kCondition:
        if (Eval(*e.children[0], scope).Truthy()) return Eval(*e.children[1], scope);
        if (e.children[2]) return Eval(*e.children[2], scope);
        return Value::Undefined("the inline if-expression evaluated to false and had no else section");
    }
    throw RenderError("unknown expression");
  }

  int depth_ = 0;
};

}  // namespace

Template::~Template() = default;

Status Template::Parse(std::string_view source, const TemplateOptions& opts, std::unique_ptr<Template>* out) {
  std::unique_ptr<Template> t(new Template());
  LexOptions lo;
  lo.trim_blocks = opts.trim_blocks;
  lo.lstrip_blocks = opts.lstrip_blocks;
  lo.keep_trailing_newline = opts.keep_trailing_newline;
  std::vector<Token> tokens;
  FM_RETURN_IF_ERROR(Lex(source, lo, &t->source_, &tokens));
  FM_RETURN_IF_ERROR(jinja::Parse(tokens, t->source_, &t->nodes_));
  *out = std::move(t);
  return Status::Ok();
}

Status Template::Render(const ValueDict& globals, std::string* out) const {
  auto root = std::make_shared<Scope>();
  const ValueDict builtins = BuiltinGlobals();
  for (const auto& [k, v] : builtins.items()) root->vars[k] = v;
  for (const auto& [k, v] : globals.items()) root->vars[k] = v;
  Renderer r;
  std::string text;
  try {
    if (r.Exec(nodes_, root, &text) != Renderer::Flow::kNormal) {
      return Status::InvalidArgument("'break' or 'continue' outside of a for loop");
    }
  } catch (const Located& e) {
    const std::string where = DescribePosition(source_, e.pos);
    if (e.raised) return Status::InvalidArgument(where + ": template raised an exception: " + e.msg);
    return Status::InvalidArgument(where + ": " + e.msg);
  }
  *out = std::move(text);
  return Status::Ok();
}

Status Template::RenderJson(const nlohmann::ordered_json& context, std::string* out) const {
  if (!context.is_object()) return Status::InvalidArgument("template context must be a JSON object");
  ValueDict globals;
  for (auto it = context.begin(); it != context.end(); ++it)
    globals.Set(it.key(), Value::FromJson(it.value()));
  return Render(globals, out);
}

}  // namespace fm::jinja
