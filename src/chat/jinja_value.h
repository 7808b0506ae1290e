// Values of the Jinja chat-template engine: a small dynamically typed variant with Python semantics
// (truthiness, equality, str()/repr(), json.dumps), because Hugging Face chat templates are written for
// Python's Jinja2 and transformers renders them there.
//
// Kinds: undefined, none, bool, int (int64), float (double), string (UTF-8), list, dict (insertion-ordered,
// string keys), namespace (a mutable dict, `namespace(...)`), callable (a native function or a macro).
// Lists and dicts are shared and treated as immutable once built (transformers renders in an immutable
// sandbox); a namespace is shared and mutable, which is what `{% set ns.x = ... %}` needs.
//
// Errors while operating on values throw jinja::RenderError; the renderer catches it and turns it into a
// fm::Status naming the template line and column (see jinja_template.h). RenderError never escapes the
// jinja_* files. Thread-compatible: a Value is not safe for concurrent mutation, but rendering never shares
// Values between calls.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fm::jinja {

// Thrown by value operations, filters and tests; caught by the renderer (never leaves the engine).
class RenderError : public std::runtime_error {
 public:
  explicit RenderError(const std::string& msg) : std::runtime_error(msg) {}
};

class Value;
class ValueDict;
using ValueList = std::vector<Value>;

// Arguments of a call: f(a, b, key=c).
struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;

  // The argument at position `index` or named `name`, or nullptr when absent.
  const Value* Get(size_t index, std::string_view name) const;
};

using NativeFunction = std::function<Value(const CallArgs&)>;

class Value {
 public:
  enum class Kind : uint8_t {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,
    kDict,
    kNamespace,
    kCallable
  };

  Value() = default;  // undefined
  // `hint` says why the value is undefined ("'foo' is undefined"), shown when it is used in a way that fails.
  static Value Undefined(std::string hint);
  static Value None();
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Float(double f);
  static Value String(std::string s);
  static Value List(ValueList items);
  static Value Dict(ValueDict dict);
  static Value Namespace(ValueDict dict);
  static Value Callable(std::string name, NativeFunction fn);
  // Converts JSON (objects keep their key order).
  static Value FromJson(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  // int, float or bool (Python treats bool as an int).
  bool is_number() const { return kind_ == Kind::kInt || kind_ == Kind::kFloat || kind_ == Kind::kBool; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  bool is_callable() const { return kind_ == Kind::kCallable; }

  bool AsBool() const { return b_; }
  int64_t AsInt() const { return i_; }
  double AsFloat() const { return f_; }
  // int/bool/float as a double.
  double AsDouble() const;
  const std::string& AsString() const { return s_; }  // also the undefined hint and the callable name
  const ValueList& AsList() const { return *list_; }
  const ValueDict& AsDict() const { return *dict_; }  // dict or namespace
  ValueDict& MutableNamespace() const { return *dict_; }
  Value Call(const CallArgs& args) const { return (*fn_)(args); }

  // Python truthiness; undefined is false.
  bool Truthy() const;
  // Python str(): None -> "None", True -> "True", 1.0 -> "1.0", lists/dicts as their repr; undefined -> "".
  std::string Str() const;
  // Python repr(): strings quoted.
  std::string Repr() const;
  // Python type name for error messages: 'str', 'int', 'list', 'dict', 'NoneType', 'undefined', ...
  std::string TypeName() const;
  // Throws RenderError with the undefined hint when this value is undefined.
  void ThrowIfUndefined() const;

 private:
  Kind kind_ = Kind::kUndefined;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0.0;
  std::string s_;
  std::shared_ptr<ValueList> list_;
  std::shared_ptr<ValueDict> dict_;
  std::shared_ptr<NativeFunction> fn_;
};

// Insertion-ordered map from string keys to values (Python dict iteration order, JSON key order).
class ValueDict {
 public:
  const Value* Find(std::string_view key) const;
  // Replaces the value in place when the key exists, otherwise appends.
  void Set(std::string key, Value v);
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  const std::vector<std::pair<std::string, Value>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, Value>> items_;
};

// Python ==.
bool ValuesEqual(const Value& a, const Value& b);
// Python <, for numbers, strings and lists; throws RenderError for other types.
bool ValueLess(const Value& a, const Value& b);

// json.dumps(v, ensure_ascii, indent, separators, sort_keys) as transformers' `tojson` filter does it.
// indent < 0 means None. Throws RenderError for undefined, namespaces and callables.
struct JsonOptions {
  int indent = -1;
  std::string indent_string;  // used instead of `indent` spaces when non-empty
  bool ensure_ascii = false;
  bool sort_keys = false;
  bool custom_separators = false;
  std::string item_separator, key_separator;
};
std::string ToJson(const Value& v, const JsonOptions& opts);

// Python float repr: 1.0, 0.1, 1e+16, 1.5e-05, inf, nan.
std::string FormatFloat(double d);

// UTF-8 helpers (invalid bytes are taken one byte per code point, so nothing is ever lost).
std::vector<uint32_t> DecodeUtf8(std::string_view s);
void AppendUtf8(uint32_t cp, std::string* out);
std::string EncodeUtf8(const std::vector<uint32_t>& cps, size_t begin, size_t end);
// Python str.isspace() for one code point.
bool IsPySpace(uint32_t cp);

}  // namespace fm::jinja
