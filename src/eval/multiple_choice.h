// Multiple-choice evaluation as lm-evaluation-harness scores it: each choice is a continuation of the item's
// prompt; the prediction is the choice with the highest summed log-likelihood (`acc`) or the highest
// log-likelihood divided by the choice's length (`acc_norm`; length = Python len(), i.e. Unicode code points,
// as lm-eval's `completion_len = [float(len(i)) for i in choices]`); ties go to the first choice (np.argmax).
// Accuracy comes with lm-eval's standard error of the mean, sqrt(p(1-p)/(n-1)).
//
// Two file formats (detected from the content):
//   lm-eval JSONL   one object per line: {"query": str, "choices": [str], "gold": int}; the continuation of
//                   choice c is " " + c (lm-eval's default target delimiter).
//   fin-harness     the JSON of pfnet-research/japanese-lm-fin-harness: {"data": [{"question", "context",
//                   "choices": [{"id", "text"}], "answer": id}]}, rendered with one of that harness's
//                   prompts:
//     default       task description "以下の問題の適切な答えを選択肢から選んでアルファベットで答えなさい。"
//     and
//                   "【問題】/【選択肢】 A: ... /【答え】"; the choices are the letters A, B, C, ...
//     alpaca        prompt version 0.3 (Japanese Alpaca: "### 指示:" / "### 入力:" / "### 応答:"); the
//     choices
//                   are the choice texts.
//                   Zero-shot, no delimiter between prompt and choice (the harness's target_delimiter "").
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "eval/language_model.h"

namespace fm {

enum class PromptStyle { kDefault, kAlpaca };
// "default" or "alpaca".
Status ParsePromptStyle(const std::string& name, PromptStyle* out);
const char* PromptStyleName(PromptStyle s);

struct McItem {
  std::string context;                     // the prompt
  std::vector<std::string> continuations;  // what is scored after the prompt, one per choice
  std::vector<std::string> choices;        // the choice strings (their length normalises acc_norm)
  int gold = 0;                            // index into choices; -100 = no choice is right (lm-eval)
  std::string where;                       // "file:line" or "file: item N" for messages
  int doc_id = 0;                          // the item's index in its task (lm-eval's doc_id)
};

struct McTask {
  std::string name;  // the fin-harness "data-name", else the file name without extension
  std::string path;
  std::string format;  // "lm-eval-jsonl" or "fin-harness"
  PromptStyle style = PromptStyle::kDefault;
  std::string version;  // fin-harness prompt version ("default", "0.1", ...); "" for other formats
  bool f1 = false;      // also report the harness's 2-class-adjusted macro F1 (chabsa)
  bool map = false;     // also report the harness's map metrics (mean reciprocal rank of gold)
  std::vector<McItem> items;
};

// Reads `path`, detects its format and builds every item's prompt and continuations. Errors name the file and
// the line (JSONL) or item index (fin-harness) and what is wrong.
Status LoadMcTask(const std::string& path, PromptStyle style, McTask* out);

struct McItemResult {
  int gold = 0, pred = 0, pred_norm = 0;
  std::vector<double> logliks;
};

struct McResult {
  int n = 0;
  double acc = 0, acc_stderr = 0, acc_norm = 0, acc_norm_stderr = 0;
  std::vector<McItemResult> items;
};

// The scoring of one item from its choices' log-likelihoods.
McItemResult ScoreMcItem(const McItem& item, const std::vector<double>& logliks);
// lm-eval's mean_stderr: sample standard deviation / sqrt(n); NaN for n < 2.
double MeanStderr(const std::vector<double>& xs);
// Aggregates item results into accuracies and standard errors.
void AggregateMc(std::vector<McItemResult> items, McResult* out);

// Scores the first `limit` items (0 = all) with `loglik`. The requests of an item share its context and are
// sent together, so the model computes the shared prompt once. Shows a progress bar.
Status EvaluateMcTask(const McTask& task, const LoglikFn& loglik, int limit, McResult* out);

// {"file", "format", "prompt_style", "n", "acc", "acc_stderr", "acc_norm", "acc_norm_stderr", "items": [...]}
nlohmann::ordered_json McResultToJson(const McTask& task, const McResult& r);

}  // namespace fm
