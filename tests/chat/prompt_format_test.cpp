// Named prompt formats (golden strings), ChatFormat loading from tokenizer folders and assistant spans.
#include "chat/prompt_format.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fm {
namespace {

const std::string kShared = std::string(FINMERGE_SOURCE_DIR) + "/../shared";

ChatFormat Named(const std::string& name) {
  ChatFormat f;
  Status s = ChatFormat::FromName(name, &f);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return f;
}

std::string RenderOk(const ChatFormat& f, const std::vector<ChatMessage>& msgs, bool gen) {
  std::string out;
  Status s = RenderChat(f, msgs, gen, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST(PromptFormat, AlpacaJaMatchesNekomataModelCard) {
  // rinna/nekomata-14b-instruction's card builds f"""\n{preamble}\n\n### 指示:\n{instruction}\n\n###
  // 入力:\n{input} \n\n### 応答:\n""" (the f-string starts with a newline).
  ChatFormat f = Named("alpaca-ja");
  EXPECT_EQ(
      RenderOk(f, {{"user", "次の日本語を英語に翻訳してください。"}, {"input", "大規模言語モデル"}}, true),
      "\n以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。"
      "\n\n"
      "### 指示:\n次の日本語を英語に翻訳してください。\n\n### 入力:\n大規模言語モデル\n\n### 応答:\n");
  EXPECT_EQ(RenderOk(f, {{"user", "日本の首都は？"}}, true),
            "\n以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きな"
            "さい。\n\n"
            "### 指示:\n日本の首都は？\n\n### 応答:\n");
  f.set_eos_token("<|endoftext|>");
  EXPECT_EQ(
      RenderOk(f, {{"system", "前置き。"}, {"user", "質問1"}, {"assistant", "答え1"}, {"user", "質問2"}},
               true),
      "\n前置き。\n\n### 指示:\n質問1\n\n### 応答:\n答え1<|endoftext|>\n\n### 指示:\n質問2\n\n### 応答:\n");
  EXPECT_EQ(RenderOk(f, {{"user", "質問"}}, false),
            "\n以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きな"
            "さい。\n\n"
            "### 指示:\n質問");
}

TEST(PromptFormat, AlpacaMatchesStanfordPromptDict) {
  ChatFormat f = Named("alpaca");
  EXPECT_EQ(
      RenderOk(f, {{"user", "Give three tips for staying healthy."}}, true),
      "Below is an instruction that describes a task. Write a response that appropriately completes the "
      "request.\n\n### Instruction:\nGive three tips for staying healthy.\n\n### Response:");
  f.set_eos_token("</s>");
  EXPECT_EQ(
      RenderOk(f, {{"user", "Translate to French."}, {"input", "Good morning"}, {"assistant", "Bonjour"}},
               false),
      "Below is an instruction that describes a task, paired with an input that provides further context. "
      "Write a response that appropriately completes the request.\n\n### Instruction:\nTranslate to French."
      "\n\n### Input:\nGood morning\n\n### Response:Bonjour</s>");
}

TEST(PromptFormat, AlpacaRejectsRolesItCannotPlace) {
  ChatFormat f = Named("alpaca-ja");
  std::string out;
  Status s = RenderChat(f, {{"user", "a"}, {"tool", "b"}}, true, &out);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("message 1 (tool)"), std::string::npos) << s.message();
  EXPECT_FALSE(RenderChat(f, {{"assistant", "a"}}, true, &out).ok());
  EXPECT_FALSE(RenderChat(f, {{"input", "a"}}, true, &out).ok());
  EXPECT_FALSE(RenderChat(f, {{"user", "a"}, {"user", "b"}}, true, &out).ok());
  ChatFormat g;
  EXPECT_EQ(ChatFormat::FromName("vicuna", &g).code(), Status::Code::kInvalidArgument);
}

TEST(PromptFormat, ChatMLGolden) {
  EXPECT_EQ(
      RenderOk(Named("chatml"), {{"system", "S"}, {"user", "U"}, {"assistant", "A"}, {"user", "V"}}, true),
      "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n"
      "<|im_start|>user\nV<|im_end|>\n<|im_start|>assistant\n");
}

TEST(PromptFormat, Llama3Golden) {
  EXPECT_EQ(
      RenderOk(Named("llama3"), {{"system", "S"}, {"user", " U \n"}}, true),
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user"
      "<|end_header_id|>\n\nU<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(PromptFormat, NamedFormatsAgreeWithTheRealTemplates) {
  const std::vector<ChatMessage> msgs = {{"system", "You are a finance assistant."},
                                         {"user", "  What is a bond?\n"}};
  ChatFormat llama_tmpl, qwen_tmpl;
  ASSERT_TRUE(ChatFormat::FromTokenizerDir(kShared + "/tokenizers/llama3", &llama_tmpl).ok());
  ASSERT_TRUE(ChatFormat::FromTokenizerDir(kShared + "/tokenizers/qwen3", &qwen_tmpl).ok());
  EXPECT_TRUE(llama_tmpl.uses_template());
  EXPECT_EQ(llama_tmpl.bos_token(), "<|begin_of_text|>");
  EXPECT_EQ(qwen_tmpl.bos_token(), "");  // null in Qwen3's config
  EXPECT_EQ(qwen_tmpl.eos_token(), "<|im_end|>");
  EXPECT_EQ(RenderOk(Named("llama3"), msgs, true), RenderOk(llama_tmpl, msgs, true));
  const std::vector<ChatMessage> plain = {{"system", "S"}, {"user", "U"}};
  EXPECT_EQ(RenderOk(Named("chatml"), plain, true), RenderOk(qwen_tmpl, plain, true));
}

TEST(PromptFormat, LoadTakesSpecialTokensFromTheFolder) {
  ChatFormat f;
  ASSERT_TRUE(ChatFormat::Load(kShared + "/tokenizers/qwen3", "alpaca-ja", &f).ok());
  EXPECT_EQ(f.name(), "alpaca-ja");
  EXPECT_EQ(f.eos_token(), "<|im_end|>");
  ASSERT_TRUE(ChatFormat::Load(kShared + "/tokenizers/qwen3", "", &f).ok());
  EXPECT_EQ(f.name(), "chat_template");
}

TEST(PromptFormat, TemplateKwargsReachTheTemplate) {
  ChatFormat f;
  ASSERT_TRUE(ChatFormat::FromTokenizerDir(kShared + "/tokenizers/qwen3", &f).ok());
  f.set_template_kwargs({{"enable_thinking", false}});
  EXPECT_EQ(RenderOk(f, {{"user", "Hi"}}, true),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

std::vector<std::string> SpanTexts(const std::string& text, const std::vector<TextSpan>& spans) {
  std::vector<std::string> out;
  for (const auto& s : spans) out.push_back(text.substr(s.begin, s.end - s.begin));
  return out;
}

TEST(PromptFormat, AssistantSpansByPrefixRendering) {
  std::string text;
  std::vector<TextSpan> spans;
  const std::vector<ChatMessage> chat = {
      {"system", "S"}, {"user", "U1"}, {"assistant", "A1"}, {"user", "U2"}, {"assistant", "A2"}};
  ASSERT_TRUE(RenderChatWithAssistantSpans(Named("chatml"), chat, {}, &text, &spans).ok());
  EXPECT_EQ(text, RenderOk(Named("chatml"), chat, false));
  EXPECT_EQ(SpanTexts(text, spans), (std::vector<std::string>{"A1<|im_end|>\n", "A2<|im_end|>\n"}));

  ChatFormat ja = Named("alpaca-ja");
  ja.set_eos_token("<|endoftext|>");
  ASSERT_TRUE(RenderChatWithAssistantSpans(
                  ja, {{"user", "質問"}, {"input", "文脈"}, {"assistant", "応答です"}}, {}, &text, &spans)
                  .ok());
  EXPECT_EQ(SpanTexts(text, spans), (std::vector<std::string>{"応答です<|endoftext|>"}));

  ChatFormat llama = Named("llama3");
  ASSERT_TRUE(RenderChatWithAssistantSpans(llama, chat, {}, &text, &spans).ok());
  EXPECT_EQ(SpanTexts(text, spans), (std::vector<std::string>{"A1<|eot_id|>", "A2<|eot_id|>"}));
}

TEST(PromptFormat, AssistantSpansWithQwen3Template) {
  ChatFormat qwen;
  ASSERT_TRUE(ChatFormat::FromTokenizerDir(kShared + "/tokenizers/qwen3", &qwen).ok());
  std::string text;
  std::vector<TextSpan> spans;
  ASSERT_TRUE(
      RenderChatWithAssistantSpans(qwen, {{"user", "Q"}, {"assistant", "Answer"}}, {}, &text, &spans).ok());
  EXPECT_EQ(SpanTexts(text, spans), (std::vector<std::string>{"<think>\n\n</think>\n\nAnswer<|im_end|>\n"}));
  // Earlier turns lose their <think> block once a later user turn exists: not prefix-stable.
  Status s = RenderChatWithAssistantSpans(
      qwen, {{"user", "Q"}, {"assistant", "A"}, {"user", "Q2"}, {"assistant", "B"}}, {}, &text, &spans);
  EXPECT_EQ(s.code(), Status::Code::kUnsupported);
  EXPECT_NE(s.message().find("not prefix-stable at message 1"), std::string::npos) << s.message();
  // The original Llama-3 template ignores add_generation_prompt.
  ChatFormat llama;
  ASSERT_TRUE(ChatFormat::FromTokenizerDir(kShared + "/tokenizers/llama3", &llama).ok());
  s = RenderChatWithAssistantSpans(llama, {{"user", "Q"}, {"assistant", "A"}}, {}, &text, &spans);
  EXPECT_EQ(s.code(), Status::Code::kUnsupported);
  EXPECT_NE(s.message().find("ignores add_generation_prompt"), std::string::npos) << s.message();
}

TEST(PromptFormat, ParseChatMessagesKeepsExtraKeys) {
  auto j = nlohmann::ordered_json::parse(
      R"([{"role": "user", "content": "hi"}, {"role": "assistant", "content": null, "tool_calls": [{"name": "f"}]}])");
  std::vector<ChatMessage> msgs;
  ASSERT_TRUE(ParseChatMessages(j, &msgs).ok());
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].content, "hi");
  EXPECT_TRUE(msgs[1].extra["content"].is_null());
  EXPECT_EQ(msgs[1].extra["tool_calls"][0]["name"], "f");
  EXPECT_FALSE(ParseChatMessages(nlohmann::ordered_json::parse(R"([{"content": "x"}])"), &msgs).ok());
}

}  // namespace
}  // namespace fm
