// Unit tests of the Jinja engine: Python Jinja2 semantics (what transformers renders with) where
// @huggingface/jinja differs, whitespace rules, and error messages with line and column.
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>

#include "chat/chat_template.h"
#include "chat/jinja_template.h"

namespace fm::jinja {
namespace {

using json = nlohmann::ordered_json;

std::string Render(const std::string& tmpl, const json& ctx = json::object(), TemplateOptions opts = {}) {
  std::unique_ptr<Template> t;
  Status s = Template::Parse(tmpl, opts, &t);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return "<parse error>";
  std::string out;
  s = t->RenderJson(ctx, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return s.ok() ? out : "<render error: " + s.ToString() + ">";
}

Status RenderStatus(const std::string& tmpl, const json& ctx = json::object()) {
  std::unique_ptr<Template> t;
  Status s = Template::Parse(tmpl, TemplateOptions(), &t);
  if (!s.ok()) return s;
  std::string out;
  return t->RenderJson(ctx, &out);
}

TEST(JinjaTemplate, PrintsValuesLikePython) {
  EXPECT_EQ(
      Render("{{ true }} {{ false }} {{ none }} {{ 1 }} {{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1.5e-5 }}"),
      "True False None 1 1.0 0.30000000000000004 1e+16 1.5e-05");
  EXPECT_EQ(Render("{{ [1, 'a', none, true] }} {{ {'k': 'v', 'n': [2]} }} {{ ('t', 1) }}"),
            "[1, 'a', None, True] {'k': 'v', 'n': [2]} ['t', 1]");
  EXPECT_EQ(Render("{{ \"it's\" }}|{{ [\"it's\"] }}"), "it's|[\"it's\"]");
  EXPECT_EQ(Render("[{{ undefined_name }}]"), "[]");
  EXPECT_EQ(Render("{{ 1 < 2 < 3 }} {{ 3 < 2 < 4 }} {{ 'a' in 'cat' }} {{ 1 in [1, 2] }}"),
            "True False True True");
  EXPECT_EQ(
      Render("{{ 21 is divisibleby 7 }} {{ 21 is divisibleby(5) }} {{ 'ab' is lower }} {{ none is none }}"),
      "True False True True");
}

TEST(JinjaTemplate, PythonStringSemantics) {
  // str.strip(chars) removes only those characters (@huggingface/jinja ignores the argument).
  EXPECT_EQ(Render("[{{ '\\n  x \\n'.strip('\\n') }}][{{ 'xxaxx'.lstrip('x') }}][{{ 'xxaxx'.rstrip('x') }}]"),
            "[  x ][axx][xxa]");
  EXPECT_EQ(Render("{{ 'hELLO wORLD'.title() }}|{{ 'hELLO wORLD' | title }}|{{ 'hELLO' | capitalize }}"),
            "Hello World|Hello World|Hello");
  EXPECT_EQ(Render("{{ ' a  b '.split() | length }}|{{ 'a,b,,c'.split(',') | length }}|{{ 'a b c'.split(' ', "
                   "1)[1] }}"),
            "2|4|b c");
  EXPECT_EQ(Render("{{ 'straße'.upper() }}|{{ 'ÀÉ' | lower }}|{{ '日本語' | length }}|{{ '日本語'[::-1] }}"),
            "STRASSE|àé|3|語本日");
  EXPECT_EQ(Render("{{ 'abcabc'.find('c') }}|{{ 'abcabc'.count('bc') }}|{{ '-'.join(['a', 'b']) }}"),
            "2|2|a-b");
  EXPECT_EQ(Render("{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'ab' | replace('', '.') }}"), "bba|.a.b.");
}

TEST(JinjaTemplate, ArithmeticLikePython) {
  EXPECT_EQ(
      Render("{{ -7 % 3 }} {{ 7 % -3 }} {{ -7 // 2 }} {{ 2 ** -1 }} {{ 10 / 4 }} {{ 3 * 1.0 }} {{ -(2) }}"),
      "2 -2 -4 0.5 2.5 3.0 -2");
  EXPECT_EQ(Render("{{ 'ab' ~ none ~ 1 }}|{{ 'x' ~ undefined_name ~ 'y' }}|{{ 'ab' * 3 }}|{{ [0] * 2 }}"),
            "abNone1|xy|ababab|[0, 0]");
  // Output printed before a break is kept, as in Python's Jinja2.
  EXPECT_EQ(Render("{% for i in [1, 2, 3] %}{{ i }}{% if i == 2 %}{% break %}{% endif %}{% endfor %}"), "12");
}

TEST(JinjaTemplate, ToJsonFollowsTransformers) {
  json ctx = {{"d", json::parse(R"({"b": [1, 2.5, true, null], "a": "x\"y\n日本", "e": {}, "f": []})")}};
  EXPECT_EQ(Render("{{ d | tojson }}", ctx),
            R"({"b": [1, 2.5, true, null], "a": "x\"y\n日本", "e": {}, "f": []})");
  EXPECT_EQ(Render("{{ d | tojson(indent=2) }}", ctx),
            "{\n  \"b\": [\n    1,\n    2.5,\n    true,\n    null\n  ],\n  \"a\": \"x\\\"y\\n日本\",\n  "
            "\"e\": {},\n"
            "  \"f\": []\n}");
  EXPECT_EQ(Render("{{ d.a | tojson(ensure_ascii=true) }}", ctx), R"("x\"y\n\u65e5\u672c")");
  EXPECT_EQ(Render("{{ d | tojson(sort_keys=true, separators=(',', ':')) }}", ctx),
            R"({"a":"x\"y\n日本","b":[1,2.5,true,null],"e":{},"f":[]})");
}

TEST(JinjaTemplate, WhitespaceControl) {
  // trim_blocks drops the newline after a block tag; lstrip_blocks the indentation before it.
  EXPECT_EQ(Render("{% if true %}\n  yes\n  {% endif %}\nend"), "  yes\nend");
  TemplateOptions raw;
  raw.trim_blocks = false;
  raw.lstrip_blocks = false;
  EXPECT_EQ(Render("{% if true %}\n  yes\n  {% endif %}\nend", json::object(), raw), "\n  yes\n  \nend");
  EXPECT_EQ(Render("a  {%- if true -%}  b  {%- endif -%}  c"), "abc");
  EXPECT_EQ(Render("a\n  {%+ if true %}b{% endif %}"), "a\n  b");  // + keeps the indentation
  EXPECT_EQ(Render("x {{- ' y ' -}} z"), "x y z");
  EXPECT_EQ(Render("{# note #}\n  {#- note -#}  a\n"),
            "a");  // one trailing newline of the template is dropped
  EXPECT_EQ(Render("{% raw %}{{ not evaluated }}{% endraw %}"), "{{ not evaluated }}");
  EXPECT_EQ(Render("a\r\nb\r\n"), "a\nb");
}

TEST(JinjaTemplate, StatementsAndScoping) {
  EXPECT_EQ(Render("{% set x = 1 %}{% for i in [1, 2] %}{% set x = i %}{% endfor %}{{ x }}"), "1");
  EXPECT_EQ(Render("{% set a, b = [1, 2] %}{{ b }}{{ a }}"), "21");
  EXPECT_EQ(Render("{% for i in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(Render("{% for i in range(4) %}{{ loop.cycle('a', 'b') }}{% endfor %}"), "abab");
  EXPECT_EQ(Render("{% for k, v in {'x': 1, 'y': 2}.items() %}{{ k }}{{ v }}{% endfor %}"), "x1y2");
  EXPECT_EQ(Render("{% for c in 'ab' %}{{ c }}.{% endfor %}"), "a.b.");
  EXPECT_EQ(Render("{% if false %}a{% elif 0 %}b{% elif 'x' %}c{% else %}d{% endif %}"), "c");
  EXPECT_EQ(Render("{% macro m(a, b=2) %}{{ a }}{{ b }}{{ varargs | length }}{% endmacro %}{{ m(1) }}{{ m(1, "
                   "3, 4) }}"),
            "120131");
  EXPECT_EQ(
      Render(
          "{{ 'x' if false }}|{{ [3, 1, 2] | sort | join(',') }}|{{ [1, 2, 3] | sum }}|{{ [1, 5, 3] | max }}"
          "|{{ 'Hello big World' | wordcount }}|{{ ['a', 'B'] | map('upper') | join }}|{{ [0, 1, 2] | "
          "select('odd') | list }}|{{ 'x' | indent(2, true) }}|{{ 'a\\nb' | indent(2) }}"),
      "|1,2,3|6|5|3|AB|[1]|  x|a\n  b");
  EXPECT_EQ(Render("{% generation %}kept{% endgeneration %}"), "kept");
}

TEST(JinjaTemplate, StrftimeNowUsesLocalTime) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char year[16];
  std::strftime(year, sizeof(year), "%Y", &tm);
  EXPECT_EQ(Render("{{ strftime_now('%Y') }}"), year);
}

TEST(JinjaTemplate, RaiseExceptionCarriesMessageAndPosition) {
  Status s = RenderStatus(
      "line one\n{% if true %}\n  {{ raise_exception('Conversation roles must alternate') }}\n"
      "{% endif %}");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "line 3, column 6: template raised an exception: Conversation roles must alternate");
}

TEST(JinjaTemplate, UnknownFilterIsASyntaxErrorWithLine) {
  Status s = RenderStatus("ok\n\n{{ messages | no_such_filter }}");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "line 3, column 15: syntax error: no filter named 'no_such_filter'");
  s = RenderStatus("{% if x is frobbed %}{% endif %}");
  EXPECT_NE(s.message().find("no test named 'frobbed'"), std::string::npos) << s.message();
}

TEST(JinjaTemplate, SyntaxErrorsNameTheLine) {
  Status s = RenderStatus("{% for m in messages %}\n{{ m.content }}\n");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("expected {% endfor %}"), std::string::npos) << s.message();
  s = RenderStatus("a\nb {{ 1 + }}");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message().rfind("line 2, column 10: syntax error:", 0), 0u) << s.message();
  s = RenderStatus("{% endif %}");
  EXPECT_NE(s.message().find("unexpected 'endif'"), std::string::npos) << s.message();
  s = RenderStatus("{% if true %}{% break %}{% endif %}");
  EXPECT_EQ(s.message(), "line 1, column 17: syntax error: 'break' outside of a for loop");
  s = RenderStatus("{% include 'x' %}");
  EXPECT_NE(s.message().find("unknown tag 'include'"), std::string::npos) << s.message();
  s = RenderStatus("{{ 'unterminated }}");
  EXPECT_NE(s.message().find("unterminated string"), std::string::npos) << s.message();
}

TEST(JinjaTemplate, RuntimeErrorsNameTheExpression) {
  Status s = RenderStatus("\n  {{ foo.bar }}");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "line 2, column 6: 'foo' is undefined");
  s = RenderStatus("{{ 'a' + 1 }}");
  EXPECT_EQ(s.message(), "line 1, column 8: can only concatenate str (not \"int\") to str");
  s = RenderStatus("{{ 1 // 0 }}");
  EXPECT_NE(s.message().find("division or modulo by zero"), std::string::npos) << s.message();
  s = RenderStatus("{% set x = 1 %}{% set x.y = 2 %}");
  EXPECT_NE(s.message().find("not a namespace"), std::string::npos) << s.message();
  s = RenderStatus("{{ messages.append(1) }}", {{"messages", json::array()}});
  EXPECT_NE(s.message().find("unsafe"), std::string::npos) << s.message();
}

TEST(JinjaTemplate, MutatedTemplatesFailCleanly) {
  // Deleting, duplicating or replacing characters of a real template must give a Status (or a rendering),
  // never a crash; run under ASan/UBSan by `make test-asan`.
  std::ifstream f(std::string(FINMERGE_SOURCE_DIR) + "/../shared/tokenizers/qwen3/tokenizer_config.json");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string base = json::parse(ss.str())["chat_template"].get<std::string>();
  const json ctx = {{"messages", json::array({{{"role", "system"}, {"content", "s"}},
                                              {{"role", "user"}, {"content", "u"}},
                                              {{"role", "assistant"}, {"content", "<think>r</think>a"}}})},
                    {"add_generation_prompt", true},
                    {"tools", json::array({{{"name", "f"}}})}};
  std::mt19937 rng(12345);
  const std::string alphabet = "{}%#-+()[]|.,:'\"=~ \nabz019";
  int rendered = 0, failed = 0;
  for (int iter = 0; iter < 600; ++iter) {
    std::string t = base;
    for (int k = 0; k < 3; ++k) {
      size_t pos = rng() % t.size();
      switch (rng() % 3) {
        case 0:
          t.erase(pos, 1 + rng() % 4);
          break;
        case 1:
          t.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
        default:
          t[pos] = alphabet[rng() % alphabet.size()];
      }
    }
    std::unique_ptr<Template> tmpl;
    std::string out;
    Status s = Template::Parse(t, TemplateOptions(), &tmpl);
    if (s.ok()) s = tmpl->RenderJson(ctx, &out);
    if (s.ok()) {
      ++rendered;
    } else {
      ++failed;
      EXPECT_EQ(s.message().rfind("line ", 0), 0u) << s.message();  // every error names a position
    }
  }
  EXPECT_GT(rendered, 0);
  EXPECT_GT(failed, 0);
}

TEST(ChatTemplate, ListOfNamedTemplatesAndTokenObjects) {
  // tokenizer_config.json may hold several named templates and special tokens as {"content": ...} objects.
  const std::string dir = ::testing::TempDir() + "/fm_chat_template_named";
  std::filesystem::create_directories(dir);
  json config = {
      {"bos_token", {{"content", "<s>"}, {"lstrip", false}}},
      {"eos_token", "</s>"},
      {"unk_token", nullptr},
      {"chat_template", json::array({{{"name", "default"}, {"template", "{{ bos_token }}D{{ eos_token }}"}},
                                     {{"name", "tool_use"}, {"template", "T{{ tools | length }}"}}})}};
  std::ofstream(dir + "/tokenizer_config.json") << config.dump();
  std::shared_ptr<const ChatTemplate> t;
  ASSERT_TRUE(ChatTemplate::FromTokenizerDir(dir, "", &t).ok());
  ChatTemplateInputs in;
  std::string out;
  ASSERT_TRUE(t->Render(in, &out).ok());
  EXPECT_EQ(out, "<s>D</s>");
  ASSERT_TRUE(ChatTemplate::FromTokenizerDir(dir, "tool_use", &t).ok());
  in.tools = json::array({1, 2});
  ASSERT_TRUE(t->Render(in, &out).ok());
  EXPECT_EQ(out, "T2");
  Status s = ChatTemplate::FromTokenizerDir(dir, "rag", &t);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("available: default, tool_use"), std::string::npos) << s.message();
  std::filesystem::remove_all(dir);
}

TEST(ChatTemplate, ErrorsNameTheConfigFile) {
  const std::string dir = ::testing::TempDir() + "/fm_chat_template_err";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/tokenizer_config.json")
      << json({{"chat_template", "{% for m in messages %}"}}).dump();
  std::shared_ptr<const ChatTemplate> t;
  Status s = ChatTemplate::FromTokenizerDir(dir, "", &t);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("tokenizer_config.json chat_template: line 1"), std::string::npos)
      << s.message();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fm::jinja
