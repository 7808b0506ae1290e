// Multiple-choice tasks: the fin-harness prompts reproduced exactly, lm-eval JSONL, scoring arithmetic
// (acc, acc_norm by code-point length, ties, standard error) and request grouping, with hand-made
// log-likelihood functions.
#include "eval/multiple_choice.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

namespace fm {
namespace {

const std::string kFin = std::string(FINMERGE_SOURCE_DIR) + "/../shared/data/fin-harness/";

TEST(McLoad, FinHarnessDefaultPrompt) {
  McTask t;
  Status s = LoadMcTask(kFin + "security_sales_1.json", PromptStyle::kDefault, &t);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(t.name, "security_sales_1");
  EXPECT_EQ(t.format, "fin-harness");
  const McItem& it = t.items[0];
  EXPECT_EQ(it.context,
            "以下の問題の適切な答えを選択肢から選んでアルファベットで答えなさい。\n\n"
            "【問題】\n次の文章について、正しければ○と、正しくなければ×と答えよ。\n"
            "外務員は、その所属する金融商品取引業者等に代わって、有価証券の売買等法律に規定する行為に関し、"
            "一切の裁判上の行為を行う権限を有するものとみなされる。\n"
            "\n【選択肢】\nA: ○\nB: ×\n\n【答え】\n");
  EXPECT_EQ(it.continuations, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(it.gold, 1);
}

TEST(McLoad, FinHarnessAlpacaPromptWithoutContext) {
  McTask t;
  ASSERT_TRUE(LoadMcTask(kFin + "cma_basics.json", PromptStyle::kAlpaca, &t).ok());
  const McItem& it = t.items[0];
  EXPECT_EQ(it.context,
            "以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさ"
            "い。\n\n"
            "### 指示:\n与えられた選択肢の中から、最適な答えを選んでください。\n\n"
            "### 入力:\n日本経済に関する次の記述のうち、正しくないものはどれか。\n"
            "出力は以下から選択してください：\n"
            "- 実質GDP（実質国内総生産）とは、物価変動の影響を除いた生産活動の水準のことである。\n"
            "- インフレーションは一般物価水準の持続的な上昇を意味する。\n"
            "- 銀行等の金融仲介機関が中心になって資金の融通を媒介する形態を間接金融という。\n"
            "- 日本銀行による財政政策はマネーサプライの増減を通じて物価水準を調整する政策である。\n\n"
            "### 応答:\n");
  ASSERT_EQ(it.continuations.size(), 4u);
  EXPECT_EQ(it.continuations[3],
            "日本銀行による財政政策はマネーサプライの増減を通じて物価水準を調整する政策である。");
  EXPECT_EQ(it.continuations, it.choices);  // no delimiter between prompt and choice
  EXPECT_EQ(it.gold, 3);
}

std::string WriteFile(const std::string& name, const std::string& text) {
  std::string p = ::testing::TempDir() + "/" + name;
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

TEST(McLoad, LmEvalJsonlAndErrors) {
  std::string p =
      WriteFile("mc.jsonl",
                "{\"query\": \"Q: 1+1?\\nA:\", \"choices\": [\"2\", \"3\"], \"gold\": 0}\n\n"
                "{\"query\": \"Q: sky?\\nA:\", \"choices\": [\"green\", \"blue\"], \"gold\": 1}\n");
  McTask t;
  ASSERT_TRUE(LoadMcTask(p, PromptStyle::kAlpaca, &t).ok());  // the style applies to fin-harness files only
  EXPECT_EQ(t.name, "mc");
  EXPECT_EQ(t.format, "lm-eval-jsonl");
  ASSERT_EQ(t.items.size(), 2u);
  EXPECT_EQ(t.items[1].context, "Q: sky?\nA:");
  EXPECT_EQ(t.items[1].continuations, (std::vector<std::string>{" green", " blue"}));
  EXPECT_EQ(t.items[1].choices, (std::vector<std::string>{"green", "blue"}));

  Status s = LoadMcTask(WriteFile("bad1.jsonl",
                                  "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 0}\n"
                                  "{\"query\": \"q\", \"choices\": [\"a\", \"b\"], \"gold\": 2}\n"),
                        PromptStyle::kDefault, &t);
  EXPECT_NE(s.message().find("bad1.jsonl:2: \"gold\" 2 is not a choice index"), std::string::npos)
      << s.message();
  s = LoadMcTask(WriteFile("bad2.jsonl", "not json\n"), PromptStyle::kDefault, &t);
  EXPECT_NE(s.message().find("bad2.jsonl:1: not a JSON object"), std::string::npos) << s.message();
  s = LoadMcTask(WriteFile("bad3.json", R"({"data": [{"question": "q", "choices": [{"id": 0, "text": "a"},
                 {"id": 1, "text": "b"}], "answer": 5}]})"),
                 PromptStyle::kDefault, &t);
  EXPECT_NE(s.message().find("bad3.json: item 0: \"answer\" 5 is not the id of a choice"), std::string::npos)
      << s.message();
  s = LoadMcTask(::testing::TempDir() + "/missing.json", PromptStyle::kDefault, &t);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
}

McItem Item(std::vector<std::string> choices, int gold) {
  McItem it;
  it.context = "ctx";
  it.choices = choices;
  it.continuations = choices;
  it.gold = gold;
  return it;
}

TEST(McScore, AccAndLengthNormalisedAcc) {
  McItemResult r = ScoreMcItem(Item({"A", "BBBB"}, 1), {-2.0, -4.0});
  EXPECT_EQ(r.pred, 0);       // highest summed log-likelihood
  EXPECT_EQ(r.pred_norm, 1);  // -4/4 > -2/1
  // Length is code points (Python len): "日本" and "ab" both have length 2.
  r = ScoreMcItem(Item({"ab", "日本"}, 0), {-4.0, -5.0});
  EXPECT_EQ(r.pred_norm, 0);
  // Ties go to the first choice, as np.argmax.
  r = ScoreMcItem(Item({"x", "y", "z"}, 2), {-1.0, -0.5, -0.5});
  EXPECT_EQ(r.pred, 1);
  EXPECT_EQ(r.pred_norm, 1);
}

TEST(McScore, StandardErrorIsLmEvalMeanStderr) {
  EXPECT_DOUBLE_EQ(MeanStderr({1, 0, 1, 1}), 0.25);  // sqrt(p(1-p)/(n-1)) with p = 0.75, n = 4
  EXPECT_TRUE(std::isnan(MeanStderr({1})));
  McResult r;
  AggregateMc({{0, 0, 1, {}}, {1, 0, 1, {}}, {1, 1, 1, {}}}, &r);
  EXPECT_EQ(r.n, 3);
  EXPECT_DOUBLE_EQ(r.acc, 2.0 / 3);
  EXPECT_DOUBLE_EQ(r.acc_norm, 2.0 / 3);
  EXPECT_NEAR(r.acc_stderr, std::sqrt((2.0 / 3) * (1.0 / 3) / 2), 1e-12);
}

TEST(McEvaluate, RequestsOfAnItemTravelTogether) {
  McTask t;
  t.name = "synthetic";
  for (int i = 0; i < 40; i++) {
    McItem it = Item({"a", "bb", "ccc"}, i % 3);
    it.context = "question " + std::to_string(i);
    t.items.push_back(it);
  }
  int calls = 0;
  // The model prefers the continuation whose length is (item index % 3) + 1: always right.
  LoglikFn fn = [&](const std::vector<LoglikRequest>& reqs, std::vector<LoglikResult>* out) {
    calls++;
    EXPECT_EQ(reqs.size() % 3, 0u);
    for (size_t k = 0; k < reqs.size(); k += 3) {
      EXPECT_EQ(reqs[k].context, reqs[k + 1].context);
      EXPECT_EQ(reqs[k].context, reqs[k + 2].context);
    }
    out->clear();
    for (const auto& r : reqs) {
      int item = std::stoi(r.context.substr(9));
      LoglikResult x;
      x.logprob = static_cast<int>(r.continuation.size()) == item % 3 + 1 ? -0.1 : -9.0;
      out->push_back(x);
    }
    return Status::Ok();
  };
  McResult r;
  ASSERT_TRUE(EvaluateMcTask(t, fn, 35, &r).ok());
  EXPECT_EQ(r.n, 35);
  EXPECT_EQ(calls, 3);  // 16 + 16 + 3 items
  EXPECT_DOUBLE_EQ(r.acc, 1.0);
  EXPECT_DOUBLE_EQ(r.acc_stderr, 0.0);

  LoglikFn failing = [](const std::vector<LoglikRequest>&, std::vector<LoglikResult>*) {
    return Status::Internal("boom");
  };
  t.items[0].where = "f.jsonl:1";
  Status s = EvaluateMcTask(t, failing, 0, &r);
  EXPECT_EQ(s.message(), "f.jsonl:1: boom");
}

}  // namespace
}  // namespace fm
