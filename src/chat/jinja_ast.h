// Internal to the Jinja engine (jinja_lexer.cpp, jinja_parser.cpp, jinja_interpreter.cpp): tokens and the
// syntax tree. Users include jinja_template.h instead. Every token and node keeps its byte offset in the
// (newline-normalized) source so errors can name a line and column.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "chat/jinja_value.h"

namespace fm::jinja {

enum class TokenType {
  kText,
  kVarBegin,
  kVarEnd,
  kBlockBegin,
  kBlockEnd,
  kName,
  kString,
  kInt,
  kFloat,
  kOp,
  kEof
};

struct Token {
  TokenType type;
  std::string value;  // text, name, string contents (unescaped) or operator spelling
  int64_t int_value = 0;
  double float_value = 0.0;
  size_t pos = 0;  // byte offset in the normalized source
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  bool keep_trailing_newline = false;
};

// Normalizes newlines ("\r\n" and "\r" -> "\n"), drops one trailing newline unless keep_trailing_newline, and
// splits the source into tokens, applying whitespace control (`-`, `+`, trim_blocks, lstrip_blocks), dropping
// comments and turning {% raw %} blocks into text. `normalized` receives the source the offsets refer to.
Status Lex(std::string_view source, const LexOptions& opts, std::string* normalized,
           std::vector<Token>* tokens);

// "line L, column C" (1-based) of byte offset `pos` in `source`.
std::string DescribePosition(std::string_view source, size_t pos);

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,    // literal
    kName,       // name
    kList,       // children
    kTuple,      // children (a list at run time)
    kDict,       // children: key0, value0, key1, value1, ...
    kGetAttr,    // children[0] . name
    kGetItem,    // children[0] [ children[1] ]
    kSlice,      // children[0] [ children[1] : children[2] : children[3] ] (null children = omitted)
    kCall,       // children[0] ( children[1..] , kwargs )
    kFilter,     // children[0] | name ( children[1..], kwargs )
    kTest,       // children[0] is [not] name ( children[1..], kwargs ); negated
    kNeg,        // - children[0]
    kPos,        // + children[0]
    kNot,        // not children[0]
    kBinary,     // children[0] op children[1]: + - * / // % ** ~
    kAnd,        // children[0] and children[1]
    kOr,         // children[0] or children[1]
    kCompare,    // children[0] ops[0] children[1] ops[1] children[2] ...: == != < <= > >= in notin
    kCondition,  // children[1] if children[0] else children[2] (children[2] may be null)
  };
  Kind kind;
  size_t pos = 0;
  Value literal;
  std::string name;  // name, attribute, filter, test or binary operator
  std::vector<ExprPtr> children;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
  bool negated = false;
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using NodeList = std::vector<NodePtr>;

struct Node {
  enum class Kind {
    kText,         // text
    kOutput,       // {{ expr }}
    kIf,           // branches (condition, body); else_body
    kFor,          // for targets in expr [if filter] body [else else_body]
    kSet,          // set targets = expr, or set attr_owner.attr = expr
    kSetBlock,     // set targets %} body {% endset
    kMacro,        // macro name(params) body
    kFilterBlock,  // filter expr(operand unused) body
    kBreak,
    kContinue,
  };
  Kind kind;
  size_t pos = 0;
  std::string text;
  ExprPtr expr;  // output value, for iterable, set value, filter-block call (as a kFilter with null operand)
  ExprPtr filter;  // for-loop `if` condition
  std::vector<std::pair<ExprPtr, NodeList>> branches;
  NodeList body, else_body;
  std::vector<std::string> targets;  // for/set names; for `set ns.attr`, targets = {ns} and attr = attr
  std::string attr;
  std::string name;                                     // macro name
  std::vector<std::pair<std::string, ExprPtr>> params;  // macro parameters with optional defaults
};

// Names the engine implements, checked at parse time so a typo fails before rendering (as in Jinja2).
bool IsKnownFilter(std::string_view name);
bool IsKnownTest(std::string_view name);

// Parses tokens into a tree. `source` is used for error positions only.
Status Parse(const std::vector<Token>& tokens, std::string_view source, NodeList* out);

}  // namespace fm::jinja
