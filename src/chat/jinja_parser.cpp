// Recursive-descent parser following Jinja2's grammar and operator precedence (lowest first):
//   x if c else y;  or;  and;  not;  comparisons (== != < <= > >= in, not in; chained);  + -;  ~;
//   * / // %;  **;  unary - +;  primary with postfix .attr [item] [a:b:c] (call), then |filter and `is` test.
#include <algorithm>

#include "chat/jinja_ast.h"

namespace fm::jinja {

namespace {

struct ParseFailure {
  size_t pos;
  std::string msg;
};

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, std::string_view src) : t_(tokens), src_(src) {}

  NodeList ParseTemplate() {
    NodeList body = ParseBody({});
    if (Cur().type != TokenType::kEof) Fail(Cur().pos, "unexpected '" + Cur().value + "'");
    return body;
  }

 private:
  const Token& Cur() const { return t_[i_]; }
  const Token& Peek(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  void Next() {
    if (i_ + 1 < t_.size()) ++i_;
  }
  bool IsOp(const char* op) const { return Cur().type == TokenType::kOp && Cur().value == op; }
  bool IsName(const char* n) const { return Cur().type == TokenType::kName && Cur().value == n; }
  [[noreturn]] void Fail(size_t pos, const std::string& msg) const { throw ParseFailure{pos, msg}; }

  std::string Describe(const Token& t) const {
    switch (t.type) {
      case TokenType::kEof:
        return "end of template";
      case TokenType::kBlockEnd:
        return "'%}'";
      case TokenType::kVarEnd:
        return "'}}'";
      case TokenType::kString:
        return "string";
      default:
        return "'" + t.value + "'";
    }
  }
  void ExpectOp(const char* op) {
    if (!IsOp(op)) Fail(Cur().pos, std::string("expected '") + op + "', got " + Describe(Cur()));
    Next();
  }
  std::string ExpectName() {
    if (Cur().type != TokenType::kName) Fail(Cur().pos, "expected a name, got " + Describe(Cur()));
    std::string n = Cur().value;
    Next();
    return n;
  }
  void ExpectBlockEnd() {
    if (Cur().type != TokenType::kBlockEnd) Fail(Cur().pos, "expected '%}', got " + Describe(Cur()));
    Next();
  }

  // Parses nodes until a block tag whose name is in `ends` (left unconsumed, at its '{%') or the end.
  // ends[0] is the tag that closes the block, named in the error when the template ends first.
  NodeList ParseBody(const std::vector<std::string>& ends) {
    NodeList body;
    while (true) {
      const Token& tok = Cur();
      if (tok.type == TokenType::kEof) {
        if (!ends.empty()) {
          Fail(tok.pos, "unexpected end of template; expected {% " + ends[0] +
                            " %} to close the block opened earlier");
        }
        return body;
      }
      if (tok.type == TokenType::kText) {
        auto n = std::make_unique<Node>();
        n->kind = Node::Kind::kText;
        n->pos = tok.pos;
        n->text = tok.value;
        body.push_back(std::move(n));
        Next();
      } else if (tok.type == TokenType::kVarBegin) {
        auto n = std::make_unique<Node>();
        n->kind = Node::Kind::kOutput;
        n->pos = tok.pos;
        Next();
        n->expr = ParseTuple(true);
        if (Cur().type != TokenType::kVarEnd) Fail(Cur().pos, "expected '}}', got " + Describe(Cur()));
        Next();
        body.push_back(std::move(n));
      } else if (tok.type == TokenType::kBlockBegin) {
        const Token& name = Peek();
        if (name.type != TokenType::kName) Fail(name.pos, "expected a tag name after '{%'");
        if (std::find(ends.begin(), ends.end(), name.value) != ends.end()) return body;
        NodePtr n = ParseStatement();
        if (n) body.push_back(std::move(n));
      } else {
        Fail(tok.pos, "unexpected " + Describe(tok));
      }
    }
  }

  // At '{%' of an end tag: consumes '{% name %}'.
  void ConsumeEndTag(const char* name) {
    Next();  // {%
    if (!IsName(name)) Fail(Cur().pos, std::string("expected '") + name + "'");
    Next();
    ExpectBlockEnd();
  }

  NodePtr ParseStatement() {
    const size_t pos = Cur().pos;
    Next();  // {%
    const std::string tag = Cur().value;
    const size_t tag_pos = Cur().pos;
    Next();
    auto n = std::make_unique<Node>();
    n->pos = tag_pos;
    if (tag == "for") {
      n->kind = Node::Kind::kFor;
      n->targets.push_back(ExpectName());
      while (IsOp(",")) {
        Next();
        n->targets.push_back(ExpectName());
      }
      if (!IsName("in")) Fail(Cur().pos, "expected 'in' in for loop, got " + Describe(Cur()));
      Next();
      n->expr = ParseTuple(false);
      if (IsName("if")) {
        Next();
        n->filter = ParseExpression(true);
      }
      if (IsName("recursive")) Fail(Cur().pos, "recursive for loops are not supported");
      ExpectBlockEnd();
      ++loop_depth_;
      n->body = ParseBody({"endfor", "else"});
      --loop_depth_;
      if (Peek().value == "else") {
        ConsumeEndTag("else");
        n->else_body = ParseBody({"endfor"});
      }
      ConsumeEndTag("endfor");
    } else if (tag == "if") {
      n->kind = Node::Kind::kIf;
      ExprPtr cond = ParseTuple(false);
      ExpectBlockEnd();
      NodeList body = ParseBody({"endif", "elif", "else"});
      n->branches.emplace_back(std::move(cond), std::move(body));
      while (Peek().value == "elif") {
        Next();
        Next();
        ExprPtr c = ParseTuple(false);
        ExpectBlockEnd();
        NodeList b = ParseBody({"endif", "elif", "else"});
        n->branches.emplace_back(std::move(c), std::move(b));
      }
      if (Peek().value == "else") {
        ConsumeEndTag("else");
        n->else_body = ParseBody({"endif"});
      }
      ConsumeEndTag("endif");
    } else if (tag == "set") {
      std::string first = ExpectName();
      n->targets.push_back(first);
      if (IsOp(".")) {
        Next();
        n->attr = ExpectName();
      } else {
        while (IsOp(",")) {
          Next();
          n->targets.push_back(ExpectName());
        }
      }
      if (IsOp("=")) {
        Next();
        n->kind = Node::Kind::kSet;
        n->expr = ParseTuple(true);
        ExpectBlockEnd();
      } else {
        if (!n->attr.empty() || n->targets.size() != 1) Fail(Cur().pos, "expected '=' in set");
        n->kind = Node::Kind::kSetBlock;
        ExpectBlockEnd();
        n->body = ParseBody({"endset"});
        ConsumeEndTag("endset");
      }
    } else if (tag == "macro") {
      n->kind = Node::Kind::kMacro;
      n->name = ExpectName();
      ExpectOp("(");
      while (!IsOp(")")) {
        std::string param = ExpectName();
        ExprPtr def;
        if (IsOp("=")) {
          Next();
          def = ParseExpression(true);
        }
        n->params.emplace_back(param, std::move(def));
        if (!IsOp(",")) break;
        Next();
      }
      ExpectOp(")");
      ExpectBlockEnd();
      int saved_depth = loop_depth_;
      loop_depth_ = 0;  // a loop around the macro definition does not make break/continue valid inside it
      n->body = ParseBody({"endmacro"});
      loop_depth_ = saved_depth;
      ConsumeEndTag("endmacro");
    } else if (tag == "filter") {
      n->kind = Node::Kind::kFilterBlock;
      n->expr = ParseFilterChain(nullptr, /*first_pipe_consumed=*/true);
      ExpectBlockEnd();
      n->body = ParseBody({"endfilter"});
      ConsumeEndTag("endfilter");
    } else if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) Fail(tag_pos, "'" + tag + "' outside of a for loop");
      n->kind = tag == "break" ? Node::Kind::kBreak : Node::Kind::kContinue;
      ExpectBlockEnd();
    } else if (tag == "generation") {
      // transformers' AssistantTracker tag: marks assistant text; rendering is unchanged.
      ExpectBlockEnd();
      n->kind = Node::Kind::kIf;
      auto yes = std::make_unique<Expr>();
      yes->kind = Expr::Kind::kLiteral;
      yes->literal = Value::Bool(true);
      n->branches.emplace_back(std::move(yes), ParseBody({"endgeneration"}));
      ConsumeEndTag("endgeneration");
    } else if (tag == "endfor" || tag == "endif" || tag == "endset" || tag == "endmacro" || tag == "else" ||
               tag == "elif" || tag == "endfilter" || tag == "endgeneration" || tag == "endraw") {
      Fail(tag_pos, "unexpected '" + tag + "' (no open block to close)");
    } else {
      Fail(tag_pos, "unknown tag '" + tag + "'");
    }
    (void)pos;
    return n;
  }

  ExprPtr Make(Expr::Kind k, size_t pos) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->pos = pos;
    return e;
  }

  // expr [, expr ...] -> a tuple when there is a comma.
  ExprPtr ParseTuple(bool with_condexpr) {
    const size_t pos = Cur().pos;
    ExprPtr first = ParseExpression(with_condexpr);
    if (!IsOp(",")) return first;
    auto tuple = Make(Expr::Kind::kTuple, pos);
    tuple->children.push_back(std::move(first));
    while (IsOp(",")) {
      Next();
      if (Cur().type == TokenType::kBlockEnd || Cur().type == TokenType::kVarEnd || IsOp(")") || IsName("if"))
        break;
      tuple->children.push_back(ParseExpression(with_condexpr));
    }
    return tuple;
  }

  ExprPtr ParseExpression(bool with_condexpr) { return with_condexpr ? ParseCondExpr() : ParseOr(); }

  ExprPtr ParseCondExpr() {
    ExprPtr e = ParseOr();
    while (IsName("if")) {
      const size_t pos = Cur().pos;
      Next();
      auto c = Make(Expr::Kind::kCondition, pos);
      c->children.push_back(ParseOr());
      c->children.push_back(std::move(e));
      if (IsName("else")) {
        Next();
        c->children.push_back(ParseCondExpr());
      } else {
        c->children.push_back(nullptr);
      }
      e = std::move(c);
    }
    return e;
  }

  ExprPtr Binary(Expr::Kind k, size_t pos, ExprPtr a, ExprPtr b, std::string op = "") {
    auto e = Make(k, pos);
    e->name = std::move(op);
    e->children.push_back(std::move(a));
    e->children.push_back(std::move(b));
    return e;
  }

  ExprPtr ParseOr() {
    ExprPtr e = ParseAnd();
    while (IsName("or")) {
      size_t pos = Cur().pos;
      Next();
      e = Binary(Expr::Kind::kOr, pos, std::move(e), ParseAnd());
    }
    return e;
  }

  ExprPtr ParseAnd() {
    ExprPtr e = ParseNot();
    while (IsName("and")) {
      size_t pos = Cur().pos;
      Next();
      e = Binary(Expr::Kind::kAnd, pos, std::move(e), ParseNot());
    }
    return e;
  }

  ExprPtr ParseNot() {
    if (IsName("not")) {
      auto e = Make(Expr::Kind::kNot, Cur().pos);
      Next();
      e->children.push_back(ParseNot());
      return e;
    }
    return ParseCompare();
  }

  ExprPtr ParseCompare() {
    const size_t pos = Cur().pos;
    ExprPtr first = ParseMath1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (Cur().type == TokenType::kOp &&
          (IsOp("==") || IsOp("!=") || IsOp("<") || IsOp("<=") || IsOp(">") || IsOp(">="))) {
        op = Cur().value;
        Next();
      } else if (IsName("in")) {
        op = "in";
        Next();
      } else if (IsName("not") && Peek().type == TokenType::kName && Peek().value == "in") {
        op = "notin";
        Next();
        Next();
      } else {
        break;
      }
      if (!cmp) {
        cmp = Make(Expr::Kind::kCompare, pos);
        cmp->children.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->children.push_back(ParseMath1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  ExprPtr ParseMath1() {
    ExprPtr e = ParseConcat();
    while (IsOp("+") || IsOp("-")) {
      std::string op = Cur().value;
      size_t pos = Cur().pos;
      Next();
      e = Binary(Expr::Kind::kBinary, pos, std::move(e), ParseConcat(), op);
    }
    return e;
  }

  ExprPtr ParseConcat() {
    ExprPtr e = ParseMath2();
    while (IsOp("~")) {
      size_t pos = Cur().pos;
      Next();
      e = Binary(Expr::Kind::kBinary, pos, std::move(e), ParseMath2(), "~");
    }
    return e;
  }

  ExprPtr ParseMath2() {
    ExprPtr e = ParsePow();
    while (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%")) {
      std::string op = Cur().value;
      size_t pos = Cur().pos;
      Next();
      e = Binary(Expr::Kind::kBinary, pos, std::move(e), ParsePow(), op);
    }
    return e;
  }

  ExprPtr ParsePow() {
    ExprPtr e = ParseUnary(true);
    while (IsOp("**")) {
      size_t pos = Cur().pos;
      Next();
      e = Binary(Expr::Kind::kBinary, pos, std::move(e), ParseUnary(true), "**");
    }
    return e;
  }

  ExprPtr ParseUnary(bool with_filter) {
    ExprPtr e;
    if (IsOp("-") || IsOp("+")) {
      e = Make(IsOp("-") ? Expr::Kind::kNeg : Expr::Kind::kPos, Cur().pos);
      Next();
      e->children.push_back(ParseUnary(false));
    } else {
      e = ParsePrimary();
    }
    e = ParsePostfix(std::move(e));
    if (with_filter) e = ParseFilterExpr(std::move(e));
    return e;
  }

  ExprPtr ParsePrimary() {
    const Token& tok = Cur();
    const size_t pos = tok.pos;
    switch (tok.type) {
      case TokenType::kName: {
        auto e = Make(Expr::Kind::kLiteral, pos);
        const std::string& n = tok.value;
        if (n == "true" || n == "True") {
          e->literal = Value::Bool(true);
        } else if (n == "false" || n == "False") {
          e->literal = Value::Bool(false);
        } else if (n == "none" || n == "None") {
          e->literal = Value::None();
        } else {
          e->kind = Expr::Kind::kName;
          e->name = n;
        }
        Next();
        return e;
      }
      case TokenType::kString: {
        std::string s;
        while (Cur().type == TokenType::kString) {
          s += Cur().value;
          Next();
        }
        auto e = Make(Expr::Kind::kLiteral, pos);
        e->literal = Value::String(std::move(s));
        return e;
      }
      case TokenType::kInt:
      case TokenType::kFloat: {
        auto e = Make(Expr::Kind::kLiteral, pos);
        e->literal = tok.type == TokenType::kInt ? Value::Int(tok.int_value) : Value::Float(tok.float_value);
        Next();
        return e;
      }
      case TokenType::kOp:
        if (tok.value == "(") {
          Next();
          if (IsOp(")")) {
            Next();
            return Make(Expr::Kind::kTuple, pos);
          }
          ExprPtr e = ParseTuple(true);
          ExpectOp(")");
          return e;
        }
        if (tok.value == "[") {
          Next();
          auto e = Make(Expr::Kind::kList, pos);
          while (!IsOp("]")) {
            e->children.push_back(ParseExpression(true));
            if (!IsOp(",")) break;
            Next();
          }
          ExpectOp("]");
          return e;
        }
        if (tok.value == "{") {
          Next();
          auto e = Make(Expr::Kind::kDict, pos);
          while (!IsOp("}")) {
            e->children.push_back(ParseExpression(true));
            ExpectOp(":");
            e->children.push_back(ParseExpression(true));
            if (!IsOp(",")) break;
            Next();
          }
          ExpectOp("}");
          return e;
        }
        break;
      default:
        break;
    }
    Fail(pos, "unexpected " + Describe(tok) + " in expression");
  }

  ExprPtr ParsePostfix(ExprPtr e) {
    while (true) {
      if (IsOp(".")) {
        Next();
        if (Cur().type == TokenType::kInt) {
          auto g = Make(Expr::Kind::kGetItem, e->pos);
          g->children.push_back(std::move(e));
          auto idx = Make(Expr::Kind::kLiteral, Cur().pos);
          idx->literal = Value::Int(Cur().int_value);
          g->children.push_back(std::move(idx));
          Next();
          e = std::move(g);
        } else {
          auto g = Make(Expr::Kind::kGetAttr, e->pos);
          g->name = ExpectName();
          g->children.push_back(std::move(e));
          e = std::move(g);
        }
      } else if (IsOp("[")) {
        e = ParseSubscript(std::move(e));
      } else if (IsOp("(")) {
        e = ParseCall(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr ParseSubscript(ExprPtr obj) {
    const size_t pos = obj->pos;
    Next();  // [
    ExprPtr start, stop, step;
    if (!IsOp(":")) start = ParseExpression(true);
    if (IsOp(":")) {
      Next();
      if (!IsOp("]") && !IsOp(":")) stop = ParseExpression(true);
      if (IsOp(":")) {
        Next();
        if (!IsOp("]")) step = ParseExpression(true);
      }
      ExpectOp("]");
      auto s = Make(Expr::Kind::kSlice, pos);
      s->children.push_back(std::move(obj));
      s->children.push_back(std::move(start));
      s->children.push_back(std::move(stop));
      s->children.push_back(std::move(step));
      return s;
    }
    ExpectOp("]");
    auto g = Make(Expr::Kind::kGetItem, pos);
    g->children.push_back(std::move(obj));
    g->children.push_back(std::move(start));
    return g;
  }

  // Parses "( args )" into e->children (after any already there) and e->kwargs.
  void ParseArgs(Expr* e) {
    ExpectOp("(");
    while (!IsOp(")")) {
      if (IsOp("*") || IsOp("**")) Fail(Cur().pos, "argument unpacking (*args, **kwargs) is not supported");
      if (Cur().type == TokenType::kName && Peek().type == TokenType::kOp && Peek().value == "=") {
        std::string key = Cur().value;
        Next();
        Next();
        e->kwargs.emplace_back(key, ParseExpression(true));
      } else {
        if (!e->kwargs.empty()) Fail(Cur().pos, "positional argument follows keyword argument");
        e->children.push_back(ParseExpression(true));
      }
      if (!IsOp(",")) break;
      Next();
    }
    ExpectOp(")");
  }

  ExprPtr ParseCall(ExprPtr callee) {
    auto c = Make(Expr::Kind::kCall, callee->pos);
    c->children.push_back(std::move(callee));
    ParseArgs(c.get());
    return c;
  }

  // name[(args)] [| name[(args)] ...] applied to `operand` (null for a {% filter %} block).
  ExprPtr ParseFilterChain(ExprPtr operand, bool first_pipe_consumed) {
    bool first = true;
    while (first ? (first_pipe_consumed || IsOp("|")) : IsOp("|")) {
      if (!(first && first_pipe_consumed)) Next();  // |
      first = false;
      const size_t pos = Cur().pos;
      std::string name = ExpectName();
      while (IsOp(".")) {
        Next();
        name += "." + ExpectName();
      }
      if (!IsKnownFilter(name)) Fail(pos, "no filter named '" + name + "'");
      auto f = Make(Expr::Kind::kFilter, pos);
      f->name = name;
      f->children.push_back(std::move(operand));
      if (IsOp("(")) ParseArgs(f.get());
      operand = std::move(f);
    }
    return operand;
  }

  ExprPtr ParseFilterExpr(ExprPtr e) {
    while (true) {
      if (IsOp("|")) {
        e = ParseFilterChain(std::move(e), false);
      } else if (IsName("is")) {
        e = ParseTest(std::move(e));
      } else if (IsOp("(")) {
        e = ParseCall(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr ParseTest(ExprPtr operand) {
    Next();  // is
    auto t = Make(Expr::Kind::kTest, Cur().pos);
    if (IsName("not")) {
      t->negated = true;
      Next();
    }
    const size_t name_pos = Cur().pos;
    // `none`, `true`, `false` are test names here even though they are literals elsewhere.
    t->name = ExpectName();
    while (IsOp(".")) {
      Next();
      t->name += "." + ExpectName();
    }
    if (!IsKnownTest(t->name)) Fail(name_pos, "no test named '" + t->name + "'");
    t->children.push_back(std::move(operand));
    if (IsOp("(")) {
      ParseArgs(t.get());
    } else if ((Cur().type == TokenType::kName || Cur().type == TokenType::kString ||
                Cur().type == TokenType::kInt || Cur().type == TokenType::kFloat || IsOp("[") || IsOp("{")) &&
               !IsName("else") && !IsName("or") && !IsName("and")) {
      if (IsName("is")) Fail(Cur().pos, "you cannot chain multiple tests with 'is'");
      t->children.push_back(ParsePostfix(ParsePrimary()));
    }
    return t;
  }

  const std::vector<Token>& t_;
  std::string_view src_;
  size_t i_ = 0;
  int loop_depth_ = 0;  // for loops around the statement being parsed
};

}  // namespace

Status Parse(const std::vector<Token>& tokens, std::string_view source, NodeList* out) {
  Parser parser(tokens, source);
  try {
    *out = parser.ParseTemplate();
  } catch (const ParseFailure& f) {
    return Status::InvalidArgument(DescribePosition(source, f.pos) + ": syntax error: " + f.msg);
  }
  return Status::Ok();
}

}  // namespace fm::jinja
