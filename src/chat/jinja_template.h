// A Jinja2 template engine for Hugging Face chat templates (tokenizer_config.json "chat_template").
//
// Supported: {{ }} / {% %} / {# #} with `-`/`+` whitespace control, trim_blocks and lstrip_blocks (on by
// default, as transformers renders), {% raw %}; for (tuple unpacking, `if` filter, else, loop.index/index0/
// revindex/first/last/length/previtem/nextitem/cycle, break/continue), if/elif/else, set (names, tuples,
// `ns.attr`, block set), macro (defaults, varargs, kwargs), filter blocks, transformers' {% generation %};
// literals (string, int, float, bool, none, list, tuple, dict), attribute/item access, slicing, calls with
// keyword arguments, Python operators, `is` tests and the filters, string/dict methods and globals
// (range, namespace, dict, raise_exception, strftime_now) listed in docs/chat-templates.md.
// Semantics are Python Jinja2's (str(True) == "True", str.strip(chars), json.dumps spacing for tojson...).
//
// Errors are Status values naming the template line and column: syntax errors from Parse, and from Render
// undefined values used in a way that fails, type errors and raise_exception("...") (message kept verbatim).
//
// Thread-safety: a parsed Template is immutable; Render may be called concurrently from several threads.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "chat/jinja_value.h"

namespace fm::jinja {

struct Node;

struct TemplateOptions {
  bool trim_blocks = true;    // drop the first newline after a block tag
  bool lstrip_blocks = true;  // drop spaces/tabs before a block tag at the start of a line
  bool keep_trailing_newline = false;
};

class Template {
 public:
  // Parses `source`. On failure returns InvalidArgument "line L, column C: syntax error: ...".
  static Status Parse(std::string_view source, const TemplateOptions& opts, std::unique_ptr<Template>* out);
  ~Template();
  Template(const Template&) = delete;
  Template& operator=(const Template&) = delete;

  // Renders with `globals` as the template's variables (they shadow the built-in functions).
  Status Render(const ValueDict& globals, std::string* out) const;
  // Same, with the variables given as a JSON object ({"messages": [...], "add_generation_prompt": true,
  // ...}).
  Status RenderJson(const nlohmann::ordered_json& context, std::string* out) const;

 private:
  Template() = default;
  std::string source_;  // newline-normalized; node offsets refer to it
  std::vector<std::unique_ptr<Node>> nodes_;
};

}  // namespace fm::jinja
