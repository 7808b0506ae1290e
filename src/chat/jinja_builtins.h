// Internal to the Jinja engine: operators, attribute/item access, filters, tests and global functions with
// Python Jinja2 semantics. All functions throw RenderError on failure (caught by the renderer).
#pragma once

#include <string>

#include "chat/jinja_value.h"

namespace fm::jinja {

// `obj.name`: dict keys, namespace attributes, string/dict/list methods (as bound callables); missing -> an
// undefined value explaining what was missing. Throws when `obj` itself is undefined.
Value GetAttr(const Value& obj, const std::string& name);
// `obj[key]`: list/string index (negative from the end), dict key; falls back to GetAttr for string keys.
Value GetItem(const Value& obj, const Value& key);
// `obj[start:stop:step]` on lists and strings (omitted parts are undefined values).
Value SliceValue(const Value& obj, const Value& start, const Value& stop, const Value& step);

// + - * / // % ** ~
Value BinaryOp(const std::string& op, const Value& a, const Value& b);
// == != < <= > >= in notin
bool CompareOp(const std::string& op, const Value& a, const Value& b);
Value Negate(const Value& v);

Value ApplyFilter(const std::string& name, const Value& operand, const CallArgs& args);
bool ApplyTest(const std::string& name, const Value& operand, const CallArgs& args);

// range, namespace, dict, raise_exception, strftime_now.
ValueDict BuiltinGlobals();

// Thrown by raise_exception(msg): the renderer reports `msg` verbatim.
class TemplateRaised : public RenderError {
 public:
  explicit TemplateRaised(const std::string& msg) : RenderError(msg) {}
};

}  // namespace fm::jinja
