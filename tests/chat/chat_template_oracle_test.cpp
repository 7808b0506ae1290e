// Byte-for-byte comparison of the C++ Jinja engine with @huggingface/jinja (tests/oracle/jinja_render.mjs) on
// the real Qwen3 and Llama-3 chat templates of ../shared/tokenizers and on hand-written templates that
// exercise the engine's features. The oracle runs for real: node_modules is installed by
// tests/oracle/ensure-npm.sh when missing, and the test fails (it is not skipped) when that is impossible.
//
// Inputs avoid the few places where @huggingface/jinja departs from Python's Jinja2 (which transformers uses
// and this engine follows): printing booleans/None/lists of strings, str.strip(chars) with leading spaces,
// negative modulo, title/capitalize of mixed-case text. Those are covered by chat_template_jinja_test.cpp.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "chat/jinja_template.h"

namespace fm::chat_template_oracle {
namespace {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

const std::string kRoot = FINMERGE_SOURCE_DIR;
const std::string kShared = kRoot + "/../shared";

struct OracleCase {
  std::string name;
  std::string tmpl;
  json context;
};

std::string ReadText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Runs the node oracle once over all cases. Returns "" on success or what went wrong.
std::string RunOracle(const std::vector<OracleCase>& cases, std::vector<json>* results) {
  const std::string oracle_dir = kRoot + "/tests/oracle";
  if (!fs::exists(oracle_dir + "/node_modules/@huggingface/jinja/package.json")) {
    std::string cmd = "bash '" + oracle_dir + "/ensure-npm.sh' >&2";
    if (std::system(cmd.c_str()) != 0 ||
        !fs::exists(oracle_dir + "/node_modules/@huggingface/jinja/package.json")) {
      return "the npm oracle @huggingface/jinja is not installed and tests/oracle/ensure-npm.sh could not "
             "install "
             "it (needs node, npm and the npm registry)";
    }
  }
  json arr = json::array();
  for (const auto& c : cases) arr.push_back({{"template", c.tmpl}, {"context", c.context}});
  const std::string base =
      (fs::temp_directory_path() / ("fm_jinja_oracle_" + std::to_string(::getpid()))).string();
  const std::string in = base + ".cases.json", out = base + ".out.json", err = base + ".err.txt";
  std::ofstream(in) << arr.dump();
  std::string cmd =
      "node '" + oracle_dir + "/jinja_render.mjs' '" + in + "' > '" + out + "' 2> '" + err + "'";
  int rc = std::system(cmd.c_str());
  std::string out_text = ReadText(out), err_text = ReadText(err);
  std::remove(in.c_str());
  std::remove(out.c_str());
  std::remove(err.c_str());
  if (rc != 0) return "node oracle failed (exit " + std::to_string(rc) + "): " + err_text;
  json parsed = json::parse(out_text, nullptr, false);
  if (!parsed.is_array() || parsed.size() != cases.size()) return "oracle output is not one result per case";
  results->assign(parsed.begin(), parsed.end());
  return "";
}

// Renders every case with the C++ engine and with the oracle; both must succeed and agree byte for byte.
void ExpectSameAsOracle(const std::vector<OracleCase>& cases) {
  std::vector<json> oracle;
  std::string problem = RunOracle(cases, &oracle);
  ASSERT_EQ(problem, "");
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name);
    ASSERT_TRUE(oracle[i].contains("output")) << "oracle error: " << oracle[i].dump();
    std::unique_ptr<jinja::Template> t;
    Status s = jinja::Template::Parse(cases[i].tmpl, jinja::TemplateOptions(), &t);
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::string ours;
    s = t->RenderJson(cases[i].context, &ours);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(ours, oracle[i]["output"].get<std::string>());
  }
}

std::string TemplateOf(const std::string& model) {
  json config = json::parse(ReadText(kShared + "/tokenizers/" + model + "/tokenizer_config.json"));
  return config["chat_template"].get<std::string>();
}

json Msg(const std::string& role, const std::string& content) {
  return {{"role", role}, {"content", content}};
}

json WeatherTools() {
  return json::parse(R"([{"type": "function", "function": {"name": "get_weather",
    "description": "Current weather of a city", "parameters": {"type": "object",
    "properties": {"city": {"type": "string", "description": "City name, e.g. 東京"},
                   "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    "required": ["city"]}}}])");
}

TEST(ChatTemplateOracle, Qwen3MatchesHuggingFaceJinja) {
  const std::string tmpl = TemplateOf("qwen3");
  const json sys = Msg("system", "You are a careful financial analyst.");
  const json user = Msg("user", "日本の政策金利は？");
  std::vector<OracleCase> cases;
  auto add = [&](const std::string& name, json messages, bool gen, json extra = json::object()) {
    json ctx = {{"messages", messages}, {"add_generation_prompt", gen}, {"eos_token", "<|im_end|>"}};
    for (auto it = extra.begin(); it != extra.end(); ++it) ctx[it.key()] = it.value();
    cases.push_back({name, tmpl, ctx});
  };
  add("system+user", json::array({sys, user}), true);
  add("user only, no generation prompt", json::array({user}), false);
  add("enable_thinking=false", json::array({sys, user}), true, {{"enable_thinking", false}});
  add("enable_thinking=true", json::array({user}), true, {{"enable_thinking", true}});
  add("multi-turn",
      json::array({sys, Msg("user", "What is CPI?"), Msg("assistant", "The consumer price index."),
                   Msg("user", "And core CPI?")}),
      true);
  add("assistant last, reasoning in content",
      json::array({Msg("user", "2+2?"), Msg("assistant", "<think>\nAdd two and two.\n</think>\n\nIt is 4.")}),
      false);
  add("earlier turn's think block dropped",
      json::array({Msg("user", "2+2?"), Msg("assistant", "<think>\nAdd.\n</think>\n\nIt is 4."),
                   Msg("user", "3+3?")}),
      true);
  json with_reasoning = Msg("assistant", "It is 6.");
  with_reasoning["reasoning_content"] = "Three and three make six.";
  add("reasoning_content field", json::array({Msg("user", "3+3?"), with_reasoning}), false);
  json call = Msg("assistant", "");
  call["tool_calls"] = json::parse(
      R"([{"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Tokyo", "unit": "celsius"}}}])");
  json call_str = Msg("assistant", "Let me check both.");
  call_str["tool_calls"] = json::parse(
      R"([{"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Osaka\"}"}},
          {"name": "get_weather", "arguments": {"city": "Kyoto"}}])");
  add("tools + tool call + tool response",
      json::array({sys, Msg("user", "Weather in Tokyo?"), call, Msg("tool", "{\"temp\": 21}"),
                   Msg("assistant", "It is 21 degrees in Tokyo.")}),
      true, {{"tools", WeatherTools()}});
  add("two tool calls, two tool responses, no system",
      json::array({Msg("user", "Osaka and Kyoto?"), call_str, Msg("tool", "{\"temp\": 19}"),
                   Msg("tool", "{\"temp\": 18}")}),
      true, {{"tools", WeatherTools()}});
  ExpectSameAsOracle(cases);
}

TEST(ChatTemplateOracle, Llama3MatchesHuggingFaceJinja) {
  const std::string tmpl = TemplateOf("llama3");
  std::vector<OracleCase> cases;
  auto add = [&](const std::string& name, json messages, bool gen) {
    cases.push_back({name,
                     tmpl,
                     {{"messages", messages},
                      {"add_generation_prompt", gen},
                      {"bos_token", "<|begin_of_text|>"},
                      {"eos_token", "<|end_of_text|>"}}});
  };
  add("system+user", json::array({Msg("system", "You are helpful."), Msg("user", "Hi!")}), true);
  add("content is trimmed", json::array({Msg("user", "  \n padded question \n\t")}), true);
  add("multi-turn, no generation prompt",
      json::array(
          {Msg("user", "金利とは？"), Msg("assistant", "お金を借りる対価です。"), Msg("user", "例は？")}),
      false);
  ExpectSameAsOracle(cases);
}

TEST(ChatTemplateOracle, HandWrittenTemplatesMatchHuggingFaceJinja) {
  const json messages = json::array({Msg("system", "Be brief."), Msg("user", "hello world-wide"),
                                     Msg("assistant", "  Hi there!  "), Msg("user", "日本語で")});
  const json ctx = {{"messages", messages},
                    {"add_generation_prompt", true},
                    {"bos_token", "<s>"},
                    {"eos_token", "</s>"},
                    {"tools", json::array({{{"name", "a"}, {"score", 3}}, {{"name", "b"}, {"score", 1}}})},
                    {"n", 7}};
  std::vector<std::pair<std::string, std::string>> templates = {
      {"loop variables",
       "{% for m in messages %}{{ loop.index }}/{{ loop.length }}:{{ m.role }}{% if loop.first %}F{% endif %}"
       "{% if loop.last %}L{% endif %}({{ loop.revindex }},{{ loop.revindex0 }})|{% endfor %}"},
      {"loop filter and index0",
       "{% for m in messages if m.role != 'system' %}{{ loop.index0 }}={{ m.content }};{% endfor %}"},
      {"previtem/nextitem, break/continue",
       // (break/continue come first in the body: @huggingface/jinja drops what an iteration printed before
       // them)
       "{% for m in messages %}{% if m.role == 'system' %}{% continue %}{% endif %}{% if loop.index > 3 %}{% "
       "break "
       "%}{% endif %}{{ m.role }}<{{ loop.previtem.role }}>{% endfor %}"},
      {"reverse and slices",
       "{% for m in messages|reverse %}{{ m.role }} {% endfor %}|{% for m in messages[::-1] %}{{ m.role[0] }}"
       "{% endfor %}|{% for m in messages[1:] %}{{ loop.index }}{% endfor %}|{{ messages[-1].content }}|"
       "{{ 'abcdef'[1:4] }}|{{ 'abcdef'[::2] }}|{{ [1, 2, 3, 4, 5][::2] }}|{{ '日本語'[1] }}"},
      {"namespace and set scoping",
       "{% set ns = namespace(count=0, last='') %}{% set x = 1 %}{% for m in messages %}{% set ns.count = "
       "ns.count + "
       "1 %}{% set ns.last = m.role %}{% set x = 99 %}{% endfor %}{{ ns.count }} {{ ns.last }} {{ x }}"},
      {"macros with defaults and keywords",
       "{% macro tag(role, content='?') %}<{{ role }}>{{ content }}</{{ role }}>{% endmacro %}"
       "{% for m in messages %}{{ tag(m.role, m.content | trim) }}{% endfor %}{{ tag('x') }}"
       "{{ tag(role='y', content='z') }}"},
      {"whitespace control, trim_blocks, lstrip_blocks, comments",
       "{# a comment #}\n<start>\n{% for m in messages %}\n    {% if m.role == 'user' %}\n        U: {{ "
       "m.content "
       "}}\n    {% else %}\n        {{- m.role -}}\n    {% endif %}\n{% endfor %}\n  {{- '<end>' }}  \n{%- "
       "if true "
       "-%}\n   tail\n{% endif %}\n"},
      {"arithmetic",
       "{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 10 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ -3 // 2 }} {{ 1.5 "
       "+ 1 }} "
       "{{ n - 10 }} {{ (n + 1) * 2 }}"},
      {"string concatenation",
       "{{ 'a' ~ 1 ~ 'b' }} {{ bos_token + messages[0].content + eos_token }} {{ [1, 2] + [3] }}"},
      {"comparisons, in, tests",
       "{% if 'orl' in messages[1].content %}in{% endif %} {% if 'z' not in 'abc' %}notin{% endif %} "
       "{% if n > 5 and n <= 7 %}range{% endif %} {% if n == 7.0 %}numeq{% endif %} "
       "{% if missing is defined %}bad{% else %}undef{% endif %} {% if messages is not none %}notnone{% "
       "endif %} "
       "{% if n is number and 'x' is string %}types{% endif %} {% if not (n is odd) %}bad{% else %}odd{% "
       "endif %} "
       "{% if messages[0] is mapping %}map{% endif %} {% if n is integer and not n is string %}int{% endif "
       "%}"},
      {"ternary, and/or values",
       "{{ 'yes' if n > 3 else 'no' }} {{ 'a' if n < 3 else 'b' if n < 5 else 'c' }} {{ none or 'fallback' "
       "}} "
       "{{ '' and 'x' }}|{{ 'p' and 'q' }}"},
      {"string filters",
       "{{ messages[2].content | trim }}|{{ messages[1].content | length }}|{{ 'Mixed' | upper }}{{ 'Mixed' "
       "| lower "
       "}}|{{ messages[1].content | title }}|{{ 'hello' | capitalize }}|{{ 'a-b-c' | replace('-', '+') }}|"
       "{{ '日本語テキスト' | length }}|{{ '42' | int + 1 }}|{{ '3.5' | float }}|{{ n | string }}|{{ 7 | abs "
       "}}"},
      {"list filters",
       "{{ messages | map(attribute='role') | join(', ') }}|{{ messages | first | tojson }}|{{ (messages | "
       "last).role "
       "}}|{{ messages | selectattr('role', 'equalto', 'user') | list | length }}|{{ messages | "
       "rejectattr('role', "
       "'equalto', 'user') | map(attribute='role') | join('+') }}|{{ ['b', 'a', 'c', 'a'] | unique | join }}|"
       "{{ ['b', 'A', 'c'] | sort | join }}|{{ tools | map(attribute='name') | join }}"},
      {"tojson", "{{ tools | tojson }}|{{ tools[0] | tojson(indent=2) }}|{{ messages[3] | tojson }}"},
      {"dicts",
       "{% set d = {'a': 1, 'b': {'c': 'deep'}} %}{{ d.b.c }} {{ d['a'] }} {{ d.get('a') }} "
       "{{ d.get('zz', 'def') }} {% for k, v in {'x': 1, 'y': 2}.items() %}{{ k }}={{ v }};{% endfor %}"
       "{% for k in d.keys() %}{{ k }}{% endfor %} {% for k, v in d | items %}{{ k }}{% endfor %} "
       "{% for k, v in {'b': 1, 'a': 2} | dictsort %}{{ k }}{% endfor %} {{ d | length }}"},
      {"string methods",
       "{{ '  x  '.strip() }}|{{ '  x  '.lstrip() }}|{{ '  x  '.rstrip() }}|{% if "
       "messages[1].content.startswith("
       "'hello') %}sw{% endif %}|{% if 'abc'.endswith('bc') %}ew{% endif %}|{{ 'a,b,c'.split(',') | "
       "join(';') }}|"
       "{{ 'a,b,c'.split(',')[-1] }}|{{ 'abc'.upper() }}{{ 'ABC'.lower() }}|{{ 'aXa'.replace('a', 'b') }}"},
      {"default and undefined",
       "[{{ missing }}]{{ missing | default('d') }}{{ bos_token | default('no') }}{{ '' | default('e', true) "
       "}}"},
      {"set block and filter block",
       "{% set greeting %}Hi {{ messages[1].content }}{% endset %}{{ greeting }}|{% filter upper %}shout "
       "{{ n }}{% endfilter %}"},
      {"generation prompt",
       "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{{ eos_token }}{% endfor %}{% if "
       "add_generation_prompt "
       "%}<|assistant|>{% endif %}"},
      {"range",
       "{% for i in range(3) %}{{ i }}{% endfor %}{% for i in range(1, 10, 4) %}{{ i }}{% endfor %}"},
  };
  std::vector<OracleCase> cases;
  for (const auto& [name, tmpl] : templates) cases.push_back({name, tmpl, ctx});
  ExpectSameAsOracle(cases);
}

TEST(ChatTemplateOracle, RaiseExceptionFailsInBoth) {
  const std::string tmpl =
      "{% for m in messages %}{% if m.role not in ['user', 'assistant'] %}"
      "{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";
  const json ctx = {{"messages", json::array({Msg("user", "a"), Msg("tool", "b")})}};
  std::vector<json> oracle;
  ASSERT_EQ(RunOracle({{"raise", tmpl, ctx}}, &oracle), "");
  ASSERT_TRUE(oracle[0].contains("error"));
  EXPECT_NE(oracle[0]["error"].get<std::string>().find("Only user and assistant roles are supported!"),
            std::string::npos);
  std::unique_ptr<jinja::Template> t;
  ASSERT_TRUE(jinja::Template::Parse(tmpl, jinja::TemplateOptions(), &t).ok());
  std::string out;
  Status s = t->RenderJson(ctx, &out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("Only user and assistant roles are supported!"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("line 1"), std::string::npos) << s.message();
}

TEST(ChatTemplateOracle, ChatTemplateFromTokenizerDirMatchesOracle) {
  // The folder loader passes the special tokens of tokenizer_config.json; the oracle gets them explicitly.
  std::shared_ptr<const ChatTemplate> llama;
  ASSERT_TRUE(ChatTemplate::FromTokenizerDir(kShared + "/tokenizers/llama3", "", &llama).ok());
  EXPECT_EQ(llama->special_token("bos_token"), "<|begin_of_text|>");
  ChatTemplateInputs in;
  in.messages = json::array({Msg("system", "S"), Msg("user", "U")});
  in.add_generation_prompt = true;
  std::string ours;
  ASSERT_TRUE(llama->Render(in, &ours).ok());
  std::vector<json> oracle;
  ASSERT_EQ(RunOracle({{"llama3 folder",
                        llama->source(),
                        {{"messages", in.messages},
                         {"add_generation_prompt", true},
                         {"bos_token", "<|begin_of_text|>"},
                         {"eos_token", "<|end_of_text|>"}}}},
                      &oracle),
            "");
  EXPECT_EQ(ours, oracle[0]["output"].get<std::string>());
  EXPECT_EQ(ours.rfind("<|begin_of_text|><|start_header_id|>system", 0), 0u);
}

}  // namespace
}  // namespace fm::chat_template_oracle
