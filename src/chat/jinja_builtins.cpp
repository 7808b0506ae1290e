#include "chat/jinja_builtins.h"

#include <unicode/locid.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <set>

#include "chat/jinja_ast.h"

namespace fm::jinja {

namespace {

// ---------- strings ----------

std::string UpperStr(const std::string& s) {
  std::string out;
  icu::UnicodeString::fromUTF8(s).toUpper(icu::Locale::getRoot()).toUTF8String(out);
  return out;
}
std::string LowerStr(const std::string& s) {
  std::string out;
  icu::UnicodeString::fromUTF8(s).toLower(icu::Locale::getRoot()).toUTF8String(out);
  return out;
}
bool IsCased(uint32_t c) {
  return u_isupper(c) || u_islower(c) || u_istitle(c);
}

// Python str.capitalize(): first character title-cased, the rest lower-cased.
std::string CapitalizeStr(const std::string& s) {
  std::vector<uint32_t> cps = DecodeUtf8(s);
  if (cps.empty()) return "";
  std::string out;
  AppendUtf8(u_totitle(cps[0]), &out);
  return out + LowerStr(EncodeUtf8(cps, 1, cps.size()));
}

// Python str.title(): a cased character after an uncased one is title-cased, others lower-cased.
std::string PyTitleStr(const std::string& s) {
  std::string out;
  bool prev_cased = false;
  for (uint32_t c : DecodeUtf8(s)) {
    AppendUtf8(prev_cased ? u_tolower(c) : u_totitle(c), &out);
    prev_cased = IsCased(c);
  }
  return out;
}

// Jinja2's `title` filter: each run between separators (-, whitespace, '(', '{', '[', '<') gets its first
// character upper-cased and the rest lower-cased.
std::string JinjaTitleStr(const std::string& s) {
  std::string out;
  bool at_start = true;
  for (uint32_t c : DecodeUtf8(s)) {
    bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || IsPySpace(c);
    if (sep) {
      AppendUtf8(c, &out);
      at_start = true;
    } else {
      AppendUtf8(at_start ? u_toupper(c) : u_tolower(c), &out);
      at_start = false;
    }
  }
  return out;
}

// Python str.strip/lstrip/rstrip: `chars` null or None -> whitespace.
std::string StripStr(const std::string& s, const Value* chars, bool left, bool right) {
  std::vector<uint32_t> cps = DecodeUtf8(s);
  std::set<uint32_t> set;
  const bool ws = chars == nullptr || chars->is_none() || chars->is_undefined();
  if (!ws) {
    if (!chars->is_string()) throw RenderError("strip arg must be None or str");
    for (uint32_t c : DecodeUtf8(chars->AsString())) set.insert(c);
  }
  auto strip = [&](uint32_t c) { return ws ? IsPySpace(c) : set.count(c) > 0; };
  size_t b = 0, e = cps.size();
  if (left) {
    while (b < e && strip(cps[b])) ++b;
  }
  if (right) {
    while (e > b && strip(cps[e - 1])) --e;
  }
  return EncodeUtf8(cps, b, e);
}

// Python str.split(sep=None, maxsplit=-1).
Value SplitStr(const std::string& s, const Value* sep, const Value* maxsplit_v) {
  int64_t maxsplit = maxsplit_v && maxsplit_v->is_number() ? maxsplit_v->AsInt() : -1;
  ValueList parts;
  if (sep == nullptr || sep->is_none()) {
    std::vector<uint32_t> cps = DecodeUtf8(s);
    size_t i = 0, n = cps.size();
    while (true) {
      while (i < n && IsPySpace(cps[i])) ++i;
      if (i >= n) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
        size_t e = n;
        while (e > i && IsPySpace(cps[e - 1])) --e;
        parts.push_back(Value::String(EncodeUtf8(cps, i, e)));
        break;
      }
      size_t b = i;
      while (i < n && !IsPySpace(cps[i])) ++i;
      parts.push_back(Value::String(EncodeUtf8(cps, b, i)));
    }
    return Value::List(std::move(parts));
  }
  if (!sep->is_string()) throw RenderError("must be str or None, not " + sep->TypeName());
  const std::string& d = sep->AsString();
  if (d.empty()) throw RenderError("empty separator");
  size_t start = 0;
  while (true) {
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) break;
    size_t hit = s.find(d, start);
    if (hit == std::string::npos) break;
    parts.push_back(Value::String(s.substr(start, hit - start)));
    start = hit + d.size();
  }
  parts.push_back(Value::String(s.substr(start)));
  return Value::List(std::move(parts));
}

std::string ReplaceStr(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
  std::string out;
  if (from.empty()) {  // Python inserts `to` before every character and at the end
    std::vector<uint32_t> cps = DecodeUtf8(s);
    int64_t done = 0;
    for (uint32_t c : cps) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      AppendUtf8(c, &out);
    }
    if (count < 0 || done < count) out += to;
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out += to;
    pos = hit + from.size();
    ++done;
  }
  out.append(s, pos, std::string::npos);
  return out;
}

bool PrefixMatch(const std::string& s, const Value& p, bool suffix) {
  auto one = [&](const Value& x) {
    if (!x.is_string()) throw RenderError("startswith/endswith first arg must be str or a tuple of str");
    const std::string& a = x.AsString();
    if (a.size() > s.size()) return false;
    return suffix ? s.compare(s.size() - a.size(), a.size(), a) == 0 : s.compare(0, a.size(), a) == 0;
  };
  if (p.is_list()) {
    for (const Value& x : p.AsList()) {
      if (one(x)) return true;
    }
    return false;
  }
  return one(p);
}

std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

size_t CodePointCount(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

const Value& Arg(const CallArgs& a, size_t i, const char* name, const Value& def) {
  const Value* v = a.Get(i, name);
  return v ? *v : def;
}

Value MakeMethod(const std::string& name, std::function<Value(const CallArgs&)> fn) {
  return Value::Callable(name, std::move(fn));
}

Value StringMethod(const std::string& s, const std::string& name) {
  static const Value kNone = Value::None();
  if (name == "upper") return MakeMethod(name, [s](const CallArgs&) { return Value::String(UpperStr(s)); });
  if (name == "lower") return MakeMethod(name, [s](const CallArgs&) { return Value::String(LowerStr(s)); });
  if (name == "title") return MakeMethod(name, [s](const CallArgs&) { return Value::String(PyTitleStr(s)); });
  if (name == "capitalize") {
    return MakeMethod(name, [s](const CallArgs&) { return Value::String(CapitalizeStr(s)); });
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool l = name != "rstrip", r = name != "lstrip";
    return MakeMethod(
        name, [s, l, r](const CallArgs& a) { return Value::String(StripStr(s, a.Get(0, "chars"), l, r)); });
  }
  if (name == "split") {
    return MakeMethod(name,
                      [s](const CallArgs& a) { return SplitStr(s, a.Get(0, "sep"), a.Get(1, "maxsplit")); });
  }
  if (name == "startswith" || name == "endswith") {
    bool suffix = name == "endswith";
    return MakeMethod(name, [s, suffix](const CallArgs& a) {
      if (a.args.empty()) throw RenderError("startswith/endswith takes at least 1 argument");
      return Value::Bool(PrefixMatch(s, a.args[0], suffix));
    });
  }
  if (name == "replace") {
    return MakeMethod(name, [s](const CallArgs& a) {
      const Value* from = a.Get(0, "old");
      const Value* to = a.Get(1, "new");
      const Value* count = a.Get(2, "count");
      if (!from || !to || !from->is_string() || !to->is_string())
        throw RenderError("replace() takes two strings");
      return Value::String(ReplaceStr(s, from->AsString(), to->AsString(), count ? count->AsInt() : -1));
    });
  }
  if (name == "find" || name == "count") {
    bool find = name == "find";
    return MakeMethod(name, [s, find](const CallArgs& a) {
      if (a.args.empty() || !a.args[0].is_string()) throw RenderError("must be str");
      const std::string& sub = a.args[0].AsString();
      if (find) {
        size_t hit = s.find(sub);
        return Value::Int(hit == std::string::npos ? -1
                                                   : static_cast<int64_t>(CodePointCount(s.substr(0, hit))));
      }
      if (sub.empty()) return Value::Int(static_cast<int64_t>(CodePointCount(s)) + 1);
      int64_t n = 0;
      for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
      return Value::Int(n);
    });
  }
  if (name == "join") {
    return MakeMethod(name, [s](const CallArgs& a) {
      if (a.args.empty() || !a.args[0].is_list()) throw RenderError("join() takes a list of strings");
      std::string out;
      bool first = true;
      for (const Value& v : a.args[0].AsList()) {
        if (!v.is_string())
          throw RenderError("sequence item: expected str instance, " + v.TypeName() + " found");
        if (!first) out += s;
        first = false;
        out += v.AsString();
      }
      return Value::String(out);
    });
  }
  if (name == "splitlines") {
    return MakeMethod(name, [s](const CallArgs&) {
      ValueList lines;
      size_t b = 0;
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\n' || s[i] == '\r') {
          lines.push_back(Value::String(s.substr(b, i - b)));
          if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
          b = i + 1;
        }
      }
      if (b < s.size()) lines.push_back(Value::String(s.substr(b)));
      return Value::List(std::move(lines));
    });
  }
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" || name == "islower" ||
      name == "isupper") {
    return MakeMethod(name, [s, name](const CallArgs&) {
      std::vector<uint32_t> cps = DecodeUtf8(s);
      if (cps.empty()) return Value::Bool(false);
      if (name == "islower" || name == "isupper") {
        bool any = false;
        for (uint32_t c : cps) {
          if (name == "islower" ? (u_isupper(c) || u_istitle(c)) : (u_islower(c) || u_istitle(c))) {
            return Value::Bool(false);
          }
          any = any || IsCased(c);
        }
        return Value::Bool(any);
      }
      for (uint32_t c : cps) {
        bool ok = name == "isdigit"   ? u_isdigit(c)
                  : name == "isalpha" ? u_isalpha(c)
                  : name == "isalnum" ? (u_isalnum(c) != 0)
                                      : IsPySpace(c);
        if (!ok) return Value::Bool(false);
      }
      return Value::Bool(true);
    });
  }
  return Value::Undefined("'str object' has no attribute '" + name + "'");
}

Value DictItems(const Value& d) {
  ValueList items;
  for (const auto& [k, v] : d.AsDict().items()) items.push_back(Value::List({Value::String(k), v}));
  return Value::List(std::move(items));
}

Value DictMethod(const Value& d, const std::string& name) {
  if (name == "get") {
    return MakeMethod(name, [d](const CallArgs& a) {
      if (a.args.empty()) throw RenderError("get expected at least 1 argument, got 0");
      const Value& key = a.args[0];
      const Value* v = key.is_string() ? d.AsDict().Find(key.AsString()) : nullptr;
      if (v) return *v;
      return a.args.size() > 1 ? a.args[1] : Value::None();
    });
  }
  if (name == "items") return MakeMethod(name, [d](const CallArgs&) { return DictItems(d); });
  if (name == "keys" || name == "values") {
    bool keys = name == "keys";
    return MakeMethod(name, [d, keys](const CallArgs&) {
      ValueList out;
      for (const auto& [k, v] : d.AsDict().items()) out.push_back(keys ? Value::String(k) : v);
      return Value::List(std::move(out));
    });
  }
  return Value();
}

bool IsUnsafeMutator(const std::string& name) {
  static const std::set<std::string> kMutators = {"append",  "extend", "insert",  "pop",    "remove",
                                                  "clear",   "sort",   "reverse", "update", "setdefault",
                                                  "popitem", "add",    "discard"};
  return kMutators.count(name) > 0;
}

}  // namespace

// ---------- access ----------

Value GetAttr(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Value::Kind::kUndefined:
      obj.ThrowIfUndefined();
      break;
    case Value::Kind::kDict: {
      Value m = DictMethod(obj, name);
      if (m.is_callable()) return m;
      if (IsUnsafeMutator(name)) {
        return Value::Undefined("access to attribute '" + name +
                                "' of 'dict' object is unsafe (immutable sandbox)");
      }
      if (const Value* v = obj.AsDict().Find(name)) return *v;
      return Value::Undefined("'dict object' has no attribute '" + name + "'");
    }
    case Value::Kind::kNamespace:
      if (const Value* v = obj.AsDict().Find(name)) return *v;
      return Value::Undefined("'Namespace' object has no attribute '" + name + "'");
    case Value::Kind::kString:
      return StringMethod(obj.AsString(), name);
    case Value::Kind::kList: {
      if (IsUnsafeMutator(name)) {
        return Value::Undefined("access to attribute '" + name +
                                "' of 'list' object is unsafe (immutable sandbox)");
      }
      if (name == "index" || name == "count") {
        bool index = name == "index";
        return MakeMethod(name, [obj, index](const CallArgs& a) {
          if (a.args.empty()) throw RenderError("takes exactly one argument");
          int64_t n = 0, i = 0;
          for (const Value& v : obj.AsList()) {
            if (ValuesEqual(v, a.args[0])) {
              if (index) return Value::Int(i);
              ++n;
            }
            ++i;
          }
          if (index) throw RenderError(a.args[0].Repr() + " is not in list");
          return Value::Int(n);
        });
      }
      break;
    }
    default:
      break;
  }
  return Value::Undefined("'" + obj.TypeName() + " object' has no attribute '" + name + "'");
}

Value GetItem(const Value& obj, const Value& key) {
  obj.ThrowIfUndefined();
  if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    if (obj.is_list()) {
      const ValueList& l = obj.AsList();
      int64_t i = key.AsInt(), n = static_cast<int64_t>(l.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n)
        return Value::Undefined("list object has no element " + std::to_string(key.AsInt()));
      return l[static_cast<size_t>(i)];
    }
    std::vector<uint32_t> cps = DecodeUtf8(obj.AsString());
    int64_t i = key.AsInt(), n = static_cast<int64_t>(cps.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n) return Value::Undefined("str object has no element " + std::to_string(key.AsInt()));
    return Value::String(EncodeUtf8(cps, static_cast<size_t>(i), static_cast<size_t>(i) + 1));
  }
  if ((obj.is_dict() || obj.is_namespace()) && key.is_string()) {
    if (const Value* v = obj.AsDict().Find(key.AsString())) return *v;
  }
  if (key.is_string()) {
    Value v = GetAttr(obj, key.AsString());
    if (!v.is_undefined()) return v;
  }
  key.ThrowIfUndefined();
  return Value::Undefined("'" + obj.TypeName() + " object' has no attribute " + key.Repr());
}

Value SliceValue(const Value& obj, const Value& start_v, const Value& stop_v, const Value& step_v) {
  obj.ThrowIfUndefined();
  auto opt = [](const Value& v, const char* what) -> std::pair<bool, int64_t> {
    if (v.is_undefined() || v.is_none()) return {false, 0};
    if (!v.is_int() && !v.is_bool())
      throw RenderError(std::string("slice ") + what + " must be an integer or None");
    return {true, v.AsInt()};
  };
  auto [has_start, start] = opt(start_v, "start");
  auto [has_stop, stop] = opt(stop_v, "stop");
  auto [has_step, step] = opt(step_v, "step");
  if (!has_step) step = 1;
  if (step == 0) throw RenderError("slice step cannot be zero");
  std::vector<uint32_t> cps;
  int64_t n;
  if (obj.is_list()) {
    n = static_cast<int64_t>(obj.AsList().size());
  } else if (obj.is_string()) {
    cps = DecodeUtf8(obj.AsString());
    n = static_cast<int64_t>(cps.size());
  } else {
    throw RenderError("'" + obj.TypeName() + "' object is not subscriptable");
  }
  // CPython's PySlice_AdjustIndices.
  auto adjust = [&](bool has, int64_t v, int64_t def) {
    if (!has) return def;
    if (v < 0) {
      v += n;
      if (v < 0) v = step < 0 ? -1 : 0;
    } else if (v >= n) {
      v = step < 0 ? n - 1 : n;
    }
    return v;
  };
  int64_t b = adjust(has_start, start, step < 0 ? n - 1 : 0);
  int64_t e = adjust(has_stop, stop, step < 0 ? -1 : n);
  ValueList items;
  std::string s;
  for (int64_t i = b; step > 0 ? i < e : i > e; i += step) {
    if (obj.is_list()) {
      items.push_back(obj.AsList()[static_cast<size_t>(i)]);
    } else {
      AppendUtf8(cps[static_cast<size_t>(i)], &s);
    }
  }
  return obj.is_list() ? Value::List(std::move(items)) : Value::String(std::move(s));
}

// ---------- operators ----------

namespace {

[[noreturn]] void Unsupported(const std::string& op, const Value& a, const Value& b) {
  a.ThrowIfUndefined();
  b.ThrowIfUndefined();
  throw RenderError("unsupported operand type(s) for " + op + ": '" + a.TypeName() + "' and '" +
                    b.TypeName() + "'");
}

Value Repeat(const Value& seq, int64_t times) {
  if (seq.is_string()) {
    std::string out;
    for (int64_t i = 0; i < times; ++i) out += seq.AsString();
    return Value::String(out);
  }
  ValueList out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), seq.AsList().begin(), seq.AsList().end());
  return Value::List(std::move(out));
}

}  // namespace

Value BinaryOp(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") return Value::String(a.Str() + b.Str());
  const bool nums = a.is_number() && b.is_number();
  const bool ints = nums && !a.is_float() && !b.is_float();
  if (op == "+") {
    if (ints) {
      int64_t r;
      if (__builtin_add_overflow(a.AsInt(), b.AsInt(), &r)) throw RenderError("integer overflow in +");
      return Value::Int(r);
    }
    if (nums) return Value::Float(a.AsDouble() + b.AsDouble());
    if (a.is_string() && b.is_string()) return Value::String(a.AsString() + b.AsString());
    if (a.is_list() && b.is_list()) {
      ValueList out = a.AsList();
      out.insert(out.end(), b.AsList().begin(), b.AsList().end());
      return Value::List(std::move(out));
    }
    if (a.is_string() || b.is_string()) {
      a.ThrowIfUndefined();
      b.ThrowIfUndefined();
      throw RenderError("can only concatenate str (not \"" + (a.is_string() ? b : a).TypeName() +
                        "\") to str");
    }
    Unsupported(op, a, b);
  }
  if (op == "-") {
    if (ints) {
      int64_t r;
      if (__builtin_sub_overflow(a.AsInt(), b.AsInt(), &r)) throw RenderError("integer overflow in -");
      return Value::Int(r);
    }
    if (nums) return Value::Float(a.AsDouble() - b.AsDouble());
    Unsupported(op, a, b);
  }
  if (op == "*") {
    if (ints) {
      int64_t r;
      if (__builtin_mul_overflow(a.AsInt(), b.AsInt(), &r)) throw RenderError("integer overflow in *");
      return Value::Int(r);
    }
    if (nums) return Value::Float(a.AsDouble() * b.AsDouble());
    if ((a.is_string() || a.is_list()) && (b.is_int() || b.is_bool())) return Repeat(a, b.AsInt());
    if ((b.is_string() || b.is_list()) && (a.is_int() || a.is_bool())) return Repeat(b, a.AsInt());
    Unsupported(op, a, b);
  }
  if (op == "/") {
    if (!nums) Unsupported(op, a, b);
    if (b.AsDouble() == 0.0) throw RenderError("division by zero");
    return Value::Float(a.AsDouble() / b.AsDouble());
  }
  if (op == "//" || op == "%") {
    if (!nums) {
      if (op == "%" && a.is_string())
        throw RenderError("printf-style string formatting ('%') is not supported");
      Unsupported(op, a, b);
    }
    if (b.AsDouble() == 0.0)
      throw RenderError(op == "//" ? "integer division or modulo by zero" : "modulo by zero");
    if (ints) {
      int64_t x = a.AsInt(), y = b.AsInt();
      int64_t q = x / y, r = x % y;
      if (r != 0 && ((r < 0) != (y < 0))) {
        --q;
        r += y;
      }
      return Value::Int(op == "//" ? q : r);
    }
    double x = a.AsDouble(), y = b.AsDouble();
    double r = std::fmod(x, y);
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return Value::Float(op == "//" ? std::floor(x / y) : r);
  }
  if (op == "**") {
    if (!nums) Unsupported(op, a, b);
    if (ints && b.AsInt() >= 0) {
      int64_t r = 1, base = a.AsInt();
      for (int64_t i = 0; i < b.AsInt(); ++i) {
        if (__builtin_mul_overflow(r, base, &r)) throw RenderError("integer overflow in **");
      }
      return Value::Int(r);
    }
    return Value::Float(std::pow(a.AsDouble(), b.AsDouble()));
  }
  throw RenderError("unknown operator " + op);
}

namespace {

bool Contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kUndefined:
      return false;  // Jinja2's Undefined iterates as empty
    case Value::Kind::kString:
      if (!item.is_string()) {
        item.ThrowIfUndefined();
        throw RenderError("'in <string>' requires string as left operand, not " + item.TypeName());
      }
      return container.AsString().find(item.AsString()) != std::string::npos;
    case Value::Kind::kList:
      for (const Value& v : container.AsList()) {
        if (ValuesEqual(v, item)) return true;
      }
      return false;
    case Value::Kind::kDict:
    case Value::Kind::kNamespace:
      return item.is_string() && container.AsDict().Find(item.AsString()) != nullptr;
    default:
      throw RenderError("argument of type '" + container.TypeName() + "' is not iterable");
  }
}

}  // namespace

bool CompareOp(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return ValuesEqual(a, b);
  if (op == "!=") return !ValuesEqual(a, b);
  if (op == "<") return ValueLess(a, b);
  if (op == ">") return ValueLess(b, a);
  if (op == "<=") return !ValueLess(b, a);
  if (op == ">=") return !ValueLess(a, b);
  if (op == "in") return Contains(b, a);
  if (op == "notin") return !Contains(b, a);
  throw RenderError("unknown comparison " + op);
}

Value Negate(const Value& v) {
  v.ThrowIfUndefined();
  if (v.is_float()) return Value::Float(-v.AsFloat());
  if (v.is_number()) return Value::Int(-v.AsInt());
  throw RenderError("bad operand type for unary -: '" + v.TypeName() + "'");
}

// ---------- filters ----------

namespace {

// Items a filter iterates over: list items, string characters, dict keys; undefined -> none.
ValueList Iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return {};
    case Value::Kind::kList:
      return v.AsList();
    case Value::Kind::kString: {
      ValueList out;
      std::vector<uint32_t> cps = DecodeUtf8(v.AsString());
      for (size_t i = 0; i < cps.size(); ++i) out.push_back(Value::String(EncodeUtf8(cps, i, i + 1)));
      return out;
    }
    case Value::Kind::kDict: {
      ValueList out;
      for (const auto& [k, x] : v.AsDict().items()) out.push_back(Value::String(k));
      return out;
    }
    default:
      throw RenderError("'" + v.TypeName() + "' object is not iterable");
  }
}

// attribute="a.b.0" as Jinja2's make_attrgetter: each part is an attribute/key, or an index when numeric.
Value AttrPath(const Value& item, const Value& attribute) {
  if (attribute.is_int()) return GetItem(item, attribute);
  Value cur = item;
  const std::string& path = attribute.AsString();
  size_t b = 0;
  while (true) {
    size_t dot = path.find('.', b);
    std::string part = path.substr(b, dot == std::string::npos ? std::string::npos : dot - b);
    bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    cur = numeric ? GetItem(cur, Value::Int(std::stoll(part))) : GetItem(cur, Value::String(part));
    if (dot == std::string::npos) break;
    b = dot + 1;
  }
  return cur;
}

CallArgs Rest(const CallArgs& a, size_t from) {
  CallArgs r;
  for (size_t i = from; i < a.args.size(); ++i) r.args.push_back(a.args[i]);
  r.kwargs = a.kwargs;
  return r;
}

int64_t Length(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return 0;
    case Value::Kind::kString:
      return static_cast<int64_t>(CodePointCount(v.AsString()));
    case Value::Kind::kList:
      return static_cast<int64_t>(v.AsList().size());
    case Value::Kind::kDict:
    case Value::Kind::kNamespace:
      return static_cast<int64_t>(v.AsDict().size());
    default:
      throw RenderError("object of type '" + v.TypeName() + "' has no len()");
  }
}

// Sort key for sort/unique/min/max/dictsort: strings lower-cased unless case_sensitive.
Value SortKey(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::String(LowerStr(v.AsString()));
  return v;
}

Value SelectOrReject(const Value& operand, const CallArgs& a, bool select, bool by_attr) {
  ValueList out;
  size_t test_at = by_attr ? 1 : 0;
  const Value* attr = by_attr ? a.Get(0, "attribute") : nullptr;
  if (by_attr && !attr) throw RenderError("selectattr/rejectattr need an attribute name");
  for (const Value& item : Iterate(operand)) {
    Value subject = by_attr ? AttrPath(item, *attr) : item;
    bool ok;
    if (a.args.size() > test_at) {
      if (!a.args[test_at].is_string()) throw RenderError("test name must be a string");
      ok = ApplyTest(a.args[test_at].AsString(), subject, Rest(a, test_at + 1));
    } else {
      ok = subject.Truthy();
    }
    if (ok == select) out.push_back(item);
  }
  return Value::List(std::move(out));
}

std::string IndentStr(const std::string& s, const Value& width, bool first, bool blank) {
  std::string unit =
      width.is_string() ? width.AsString() : std::string(width.is_number() ? width.AsInt() : 4, ' ');
  std::vector<std::string> lines;
  size_t b = 0;
  std::string text = s + "\n";  // Jinja2 appends a newline before splitlines()
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' || text[i] == '\r') {
      lines.push_back(text.substr(b, i - b));
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      b = i + 1;
    }
  }
  std::string out;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) out += (i ? "\n" + unit : "") + lines[i];
  } else {
    out = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) out += "\n" + (lines[i].empty() ? "" : unit + lines[i]);
  }
  return first ? unit + out : out;
}

Value ToInt(const Value& v, const Value& def, int base) {
  if (v.is_int()) return v;
  if (v.is_bool()) return Value::Int(v.AsInt());
  if (v.is_float()) return Value::Int(static_cast<int64_t>(std::trunc(v.AsFloat())));
  if (v.is_string()) {
    std::string s = StripStr(v.AsString(), nullptr, true, true);
    std::string digits;
    for (char c : s) {
      if (c != '_') digits += c;
    }
    try {
      size_t used = 0;
      int64_t r = std::stoll(digits, &used, base);
      if (used == digits.size()) return Value::Int(r);
    } catch (const std::exception&) {
    }
    try {
      size_t used = 0;
      double d = std::stod(digits, &used);
      if (used == digits.size() && std::isfinite(d)) return Value::Int(static_cast<int64_t>(std::trunc(d)));
    } catch (const std::exception&) {
    }
  }
  return def;
}

Value ToFloat(const Value& v, const Value& def) {
  if (v.is_number()) return Value::Float(v.AsDouble());
  if (v.is_string()) {
    std::string s = StripStr(v.AsString(), nullptr, true, true);
    try {
      size_t used = 0;
      double d = std::stod(s, &used);
      if (used == s.size()) return Value::Float(d);
    } catch (const std::exception&) {
    }
  }
  return def;
}

Value ToJsonFilter(const Value& v, const CallArgs& a) {
  // transformers: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
  JsonOptions o;
  if (const Value* e = a.Get(0, "ensure_ascii")) o.ensure_ascii = e->Truthy();
  if (const Value* i = a.Get(1, "indent"); i && !i->is_none()) {
    if (i->is_string()) {
      o.indent_string = i->AsString();
      if (o.indent_string.empty()) o.indent = 0;
    } else {
      o.indent = static_cast<int>(std::max<int64_t>(0, i->AsInt()));
    }
  }
  if (const Value* s = a.Get(2, "separators"); s && !s->is_none()) {
    if (!s->is_list() || s->AsList().size() != 2 || !s->AsList()[0].is_string() ||
        !s->AsList()[1].is_string()) {
      throw RenderError("separators must be a pair of strings");
    }
    o.custom_separators = true;
    o.item_separator = s->AsList()[0].AsString();
    o.key_separator = s->AsList()[1].AsString();
  }
  if (const Value* k = a.Get(3, "sort_keys")) o.sort_keys = k->Truthy();
  return Value::String(ToJson(v, o));
}

}  // namespace

bool IsKnownFilter(std::string_view name) {
  static const std::set<std::string_view> kFilters = {
      "abs",        "attr",    "capitalize", "count",       "d",      "default", "dictsort",   "e",
      "escape",     "first",   "float",      "forceescape", "indent", "int",     "items",      "join",
      "last",       "length",  "list",       "lower",       "map",    "max",     "min",        "reject",
      "rejectattr", "replace", "reverse",    "round",       "safe",   "select",  "selectattr", "sort",
      "string",     "sum",     "title",      "tojson",      "trim",   "unique",  "upper",      "wordcount"};
  return kFilters.count(name) > 0;
}

Value ApplyFilter(const std::string& name, const Value& v, const CallArgs& a) {
  static const Value kUndef;
  static const Value kFalse = Value::Bool(false);
  if (name == "safe") return v;
  if (name == "default" || name == "d") {
    static const Value kEmpty = Value::String("");
    const Value& def = Arg(a, 0, "default_value", kEmpty);
    bool boolean = Arg(a, 1, "boolean", kFalse).Truthy();
    if (v.is_undefined() || (boolean && !v.Truthy())) return def;
    return v;
  }
  if (name == "length" || name == "count") return Value::Int(Length(v));
  if (name == "string") return Value::String(v.Str());
  if (name == "tojson") return ToJsonFilter(v, a);
  if (name == "trim") return Value::String(StripStr(v.Str(), a.Get(0, "chars"), true, true));
  if (name == "upper") return Value::String(UpperStr(v.Str()));
  if (name == "lower") return Value::String(LowerStr(v.Str()));
  if (name == "capitalize") return Value::String(CapitalizeStr(v.Str()));
  if (name == "title") return Value::String(JinjaTitleStr(v.Str()));
  if (name == "escape" || name == "e" || name == "forceescape") return Value::String(HtmlEscape(v.Str()));
  if (name == "replace") {
    const Value* from = a.Get(0, "old");
    const Value* to = a.Get(1, "new");
    const Value* count = a.Get(2, "count");
    if (!from || !to) throw RenderError("replace needs old and new strings");
    return Value::String(
        ReplaceStr(v.Str(), from->Str(), to->Str(), count && !count->is_none() ? count->AsInt() : -1));
  }
  if (name == "indent") {
    static const Value kFour = Value::Int(4);
    return Value::String(IndentStr(v.Str(), Arg(a, 0, "width", kFour), Arg(a, 1, "first", kFalse).Truthy(),
                                   Arg(a, 2, "blank", kFalse).Truthy()));
  }
  if (name == "wordcount") {
    int64_t n = 0;
    bool in_word = false;
    for (uint32_t c : DecodeUtf8(v.Str())) {
      bool w = c == '_' || u_isalnum(c);
      if (w && !in_word) ++n;
      in_word = w;
    }
    return Value::Int(n);
  }
  if (name == "int") {
    static const Value kZero = Value::Int(0), kTen = Value::Int(10);
    return ToInt(v, Arg(a, 0, "default", kZero), static_cast<int>(Arg(a, 1, "base", kTen).AsInt()));
  }
  if (name == "float") {
    static const Value kZero = Value::Float(0.0);
    return ToFloat(v, Arg(a, 0, "default", kZero));
  }
  if (name == "abs") {
    if (v.is_float()) return Value::Float(std::fabs(v.AsFloat()));
    if (v.is_number()) return Value::Int(std::llabs(v.AsInt()));
    v.ThrowIfUndefined();
    throw RenderError("bad operand type for abs(): '" + v.TypeName() + "'");
  }
  if (name == "round") {
    static const Value kZero = Value::Int(0);
    static const Value kCommon = Value::String("common");
    if (!v.is_number()) throw RenderError("round needs a number, got " + v.TypeName());
    double scale = std::pow(10.0, static_cast<double>(Arg(a, 0, "precision", kZero).AsInt()));
    const std::string method = Arg(a, 1, "method", kCommon).Str();
    double x = v.AsDouble() * scale;
    double r = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::nearbyint(x);
    return Value::Float(r / scale);
  }
  if (name == "attr") {
    if (a.args.empty()) throw RenderError("attr needs a name");
    return GetAttr(v, a.args[0].Str());
  }
  if (name == "items") {
    if (v.is_undefined()) return Value::List({});
    if (!v.is_dict()) throw RenderError("Can only get item pairs from a mapping.");
    return DictItems(v);
  }
  if (name == "dictsort") {
    if (!v.is_dict()) throw RenderError("dictsort needs a mapping, got " + v.TypeName());
    bool cs = Arg(a, 0, "case_sensitive", kFalse).Truthy();
    static const Value kKey = Value::String("key");
    int pos = Arg(a, 1, "by", kKey).Str() == "value" ? 1 : 0;
    bool rev = Arg(a, 2, "reverse", kFalse).Truthy();
    ValueList items = DictItems(v).AsList();
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      return ValueLess(SortKey(x.AsList()[pos], cs), SortKey(y.AsList()[pos], cs));
    });
    if (rev) std::reverse(items.begin(), items.end());
    return Value::List(std::move(items));
  }
  if (name == "first" || name == "last") {
    ValueList items = Iterate(v);
    if (items.empty()) return Value::Undefined("No " + name + " item, sequence was empty.");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "list") return Value::List(Iterate(v));
  if (name == "reverse") {
    if (v.is_string()) {
      std::vector<uint32_t> cps = DecodeUtf8(v.AsString());
      std::reverse(cps.begin(), cps.end());
      return Value::String(EncodeUtf8(cps, 0, cps.size()));
    }
    ValueList items = Iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::List(std::move(items));
  }
  if (name == "join") {
    static const Value kEmpty = Value::String("");
    const std::string sep = Arg(a, 0, "d", kEmpty).Str();
    const Value* attr = a.Get(1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& item : Iterate(v)) {
      if (!first) out += sep;
      first = false;
      out += (attr && !attr->is_none() ? AttrPath(item, *attr) : item).Str();
    }
    return Value::String(out);
  }
  if (name == "sort" || name == "unique" || name == "min" || name == "max") {
    bool rev = name == "sort" && Arg(a, 0, "reverse", kFalse).Truthy();
    bool cs = Arg(a, name == "sort" ? 1 : 0, "case_sensitive", kFalse).Truthy();
    const Value* attr = a.Get(name == "sort" ? 2 : 1, "attribute");
    auto key = [&](const Value& item) {
      return SortKey(attr && !attr->is_none() ? AttrPath(item, *attr) : item, cs);
    };
    ValueList items = Iterate(v);
    if (name == "unique") {
      ValueList out, seen;
      for (const Value& item : items) {
        Value k = key(item);
        if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return ValuesEqual(s, k); })) {
          seen.push_back(k);
          out.push_back(item);
        }
      }
      return Value::List(std::move(out));
    }
    if (name == "min" || name == "max") {
      if (items.empty()) return Value::Undefined("No aggregated item, sequence was empty.");
      size_t best = 0;
      for (size_t i = 1; i < items.size(); ++i) {
        bool better = name == "min" ? ValueLess(key(items[i]), key(items[best]))
                                    : ValueLess(key(items[best]), key(items[i]));
        if (better) best = i;
      }
      return items[best];
    }
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      return rev ? ValueLess(key(y), key(x)) : ValueLess(key(x), key(y));
    });
    return Value::List(std::move(items));
  }
  if (name == "sum") {
    static const Value kZero = Value::Int(0);
    const Value* attr = a.Get(0, "attribute");
    Value total = Arg(a, 1, "start", kZero);
    for (const Value& item : Iterate(v)) total = BinaryOp("+", total, attr ? AttrPath(item, *attr) : item);
    return total;
  }
  if (name == "map") {
    ValueList out;
    if (!a.args.empty()) {
      if (!a.args[0].is_string()) throw RenderError("map needs a filter name or attribute=");
      const std::string filter = a.args[0].AsString();
      if (!IsKnownFilter(filter)) throw RenderError("no filter named '" + filter + "'");
      CallArgs rest = Rest(a, 1);
      for (const Value& item : Iterate(v)) out.push_back(ApplyFilter(filter, item, rest));
    } else {
      const Value* attr = a.Get(0, "attribute");
      if (!attr) throw RenderError("map needs a filter name or attribute=");
      const Value* def = nullptr;
      for (const auto& [k, x] : a.kwargs) {
        if (k == "default") def = &x;
      }
      for (const Value& item : Iterate(v)) {
        Value x = AttrPath(item, *attr);
        out.push_back(x.is_undefined() && def ? *def : x);
      }
    }
    return Value::List(std::move(out));
  }
  if (name == "select" || name == "reject") return SelectOrReject(v, a, name == "select", false);
  if (name == "selectattr" || name == "rejectattr") return SelectOrReject(v, a, name == "selectattr", true);
  (void)kUndef;
  throw RenderError("no filter named '" + name + "'");
}

// ---------- tests ----------

bool IsKnownTest(std::string_view name) {
  static const std::set<std::string_view> kTests = {
      "boolean", "callable", "defined",  "divisibleby", "eq",          "equalto", "even",      "false",
      "filter",  "float",    "ge",       "gt",          "greaterthan", "in",      "integer",   "iterable",
      "le",      "lessthan", "lower",    "lt",          "mapping",     "ne",      "none",      "number",
      "odd",     "sameas",   "sequence", "string",      "test",        "true",    "undefined", "upper"};
  return kTests.count(name) > 0;
}

bool ApplyTest(const std::string& name, const Value& v, const CallArgs& a) {
  auto other = [&]() -> const Value& {
    if (a.args.empty()) throw RenderError("test '" + name + "' needs an argument");
    return a.args[0];
  };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.AsBool();
  if (name == "false") return v.is_bool() && !v.AsBool();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined();
  if (name == "sequence") return v.is_string() || v.is_list() || v.is_dict();
  if (name == "callable") return v.is_callable();
  if (name == "lower" || name == "upper") {
    std::string s = v.Str();
    return name == "lower" ? (s == LowerStr(s) && s != UpperStr(s)) : (s == UpperStr(s) && s != LowerStr(s));
  }
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (!v.is_int() && !v.is_bool()) throw RenderError("test '" + name + "' needs an integer");
    int64_t d = name == "divisibleby" ? other().AsInt() : 2;
    if (d == 0) throw RenderError("integer division or modulo by zero");
    int64_t r = ((v.AsInt() % d) + d) % d;
    return name == "odd" ? r == 1 : r == 0;
  }
  if (name == "eq" || name == "equalto") return CompareOp("==", v, other());
  if (name == "ne") return CompareOp("!=", v, other());
  if (name == "lt" || name == "lessthan") return CompareOp("<", v, other());
  if (name == "le") return CompareOp("<=", v, other());
  if (name == "gt" || name == "greaterthan") return CompareOp(">", v, other());
  if (name == "ge") return CompareOp(">=", v, other());
  if (name == "in") return CompareOp("in", v, other());
  if (name == "sameas") {
    const Value& o = other();
    if (v.kind() != o.kind()) return false;
    if (v.is_list()) return &v.AsList() == &o.AsList();
    if (v.is_dict() || v.is_namespace()) return &v.AsDict() == &o.AsDict();
    return ValuesEqual(v, o);
  }
  if (name == "filter") return v.is_string() && IsKnownFilter(v.AsString());
  if (name == "test") return v.is_string() && IsKnownTest(v.AsString());
  throw RenderError("no test named '" + name + "'");
}

// ---------- globals ----------

ValueDict BuiltinGlobals() {
  ValueDict g;
  g.Set("range", Value::Callable("range", [](const CallArgs& a) {
          for (const Value& x : a.args) {
            if (!x.is_int() && !x.is_bool()) throw RenderError("range() arguments must be integers");
          }
          int64_t start = 0, stop = 0, step = 1;
          if (a.args.size() == 1) {
            stop = a.args[0].AsInt();
          } else if (a.args.size() == 2 || a.args.size() == 3) {
            start = a.args[0].AsInt();
            stop = a.args[1].AsInt();
            if (a.args.size() == 3) step = a.args[2].AsInt();
          } else {
            throw RenderError("range expected 1 to 3 arguments");
          }
          if (step == 0) throw RenderError("range() arg 3 must not be zero");
          ValueList out;
          for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
            if (out.size() >= 1000000) throw RenderError("range too big (more than 1,000,000 items)");
            out.push_back(Value::Int(i));
          }
          return Value::List(std::move(out));
        }));
  g.Set("namespace", Value::Callable("namespace", [](const CallArgs& a) {
          ValueDict d;
          if (!a.args.empty()) {
            if (!a.args[0].is_dict()) throw RenderError("namespace() takes a mapping");
            for (const auto& [k, v] : a.args[0].AsDict().items()) d.Set(k, v);
          }
          for (const auto& [k, v] : a.kwargs) d.Set(k, v);
          return Value::Namespace(std::move(d));
        }));
  g.Set("dict", Value::Callable("dict", [](const CallArgs& a) {
          ValueDict d;
          if (!a.args.empty() && a.args[0].is_dict()) {
            for (const auto& [k, v] : a.args[0].AsDict().items()) d.Set(k, v);
          }
          for (const auto& [k, v] : a.kwargs) d.Set(k, v);
          return Value::Dict(std::move(d));
        }));
  g.Set("raise_exception", Value::Callable("raise_exception", [](const CallArgs& a) -> Value {
          throw TemplateRaised(a.args.empty() ? std::string("raise_exception() called") : a.args[0].Str());
        }));
  g.Set("strftime_now", Value::Callable("strftime_now", [](const CallArgs& a) {
          // transformers: datetime.now().strftime(format), local time.
          if (a.args.empty() || !a.args[0].is_string())
            throw RenderError("strftime_now() takes a format string");
          std::time_t now = std::time(nullptr);
          std::tm tm{};
          localtime_r(&now, &tm);
          char buf[512];
          size_t n = std::strftime(buf, sizeof(buf), a.args[0].AsString().c_str(), &tm);
          return Value::String(std::string(buf, n));
        }));
  return g;
}

}  // namespace fm::jinja
