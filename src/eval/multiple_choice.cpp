#include "eval/multiple_choice.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "base/progress.h"
#include "tokenizer/utf8.h"

namespace fm {

using json = nlohmann::json;

namespace {

// The fin-harness task descriptions as the model sees them. The harness's YAML writes each with one more
// trailing "\n", which its Jinja rendering (keep_trailing_newline off) removes.
constexpr const char* kDefaultDescription =
    "以下の問題の適切な答えを選択肢から選んでアルファベットで答えなさい。\n\n";
constexpr const char* kAlpacaDescription =
    "以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。\n\n"
    "### 指示:\n与えられた選択肢の中から、最適な答えを選んでください。\n\n";

// Question text plus the optional context line, as the harness's doc_to_text functions build it.
std::string QuestionText(const std::string& question, const std::string& context) {
  std::string s = question + "\n";
  if (!context.empty()) s += context + "\n";
  return s;
}

size_t CodePoints(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

Status ParseJsonl(const std::string& path, std::istream& in, McTask* t) {
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    lineno++;
    const std::string where = path + ":" + std::to_string(lineno);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (!utf8::IsValid(line)) return Status::InvalidArgument(where + ": invalid UTF-8");
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument(where + ": not a JSON object");
    if (!j.contains("query") || !j["query"].is_string()) {
      return Status::InvalidArgument(where + ": missing string \"query\"");
    }
    if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].size() < 2) {
      return Status::InvalidArgument(where + ": \"choices\" must be a list of at least two strings");
    }
    if (!j.contains("gold") || !j["gold"].is_number_integer()) {
      return Status::InvalidArgument(where + ": missing integer \"gold\" (index of the right choice)");
    }
    McItem it;
    it.where = where;
    it.context = j["query"].get<std::string>();
    for (const auto& c : j["choices"]) {
      if (!c.is_string() || c.get<std::string>().empty()) {
        return Status::InvalidArgument(where + ": a choice is not a non-empty string");
      }
      it.choices.push_back(c.get<std::string>());
      it.continuations.push_back(" " + c.get<std::string>());
    }
    int64_t gold = j["gold"].get<int64_t>();
    if (gold < 0 || gold >= static_cast<int64_t>(it.choices.size())) {
      return Status::InvalidArgument(where + ": \"gold\" " + std::to_string(gold) +
                                     " is not a choice index (0.." + std::to_string(it.choices.size() - 1) +
                                     ")");
    }
    it.gold = static_cast<int>(gold);
    t->items.push_back(std::move(it));
  }
  return Status::Ok();
}

Status ParseFinHarness(const std::string& path, const json& doc, McTask* t) {
  if (!doc.contains("data") || !doc["data"].is_array()) {
    return Status::InvalidArgument(path + ": no \"data\" list (expected the japanese-lm-fin-harness JSON)");
  }
  if (doc.contains("data-name") && doc["data-name"].is_string())
    t->name = doc["data-name"].get<std::string>();
  const json& data = doc["data"];
  for (size_t i = 0; i < data.size(); i++) {
    const json& d = data[i];
    const std::string where = path + ": item " + std::to_string(i) +
                              (d.is_object() && d.contains("id") ? " (id " + d["id"].dump() + ")" : "");
    if (!d.is_object()) return Status::InvalidArgument(where + ": not an object");
    if (!d.contains("question") || !d["question"].is_string()) {
      return Status::InvalidArgument(where + ": missing string \"question\"");
    }
    if (!d.contains("choices") || !d["choices"].is_array() || d["choices"].size() < 2) {
      return Status::InvalidArgument(where +
                                     ": \"choices\" must be a list of at least two {\"id\", \"text\"}");
    }
    if (!d.contains("answer") || !d["answer"].is_number_integer()) {
      return Status::InvalidArgument(where + ": missing integer \"answer\" (the id of the right choice)");
    }
    std::string context;
    if (d.contains("context") && d["context"].is_string()) context = d["context"].get<std::string>();
    const std::string q = QuestionText(d["question"].get<std::string>(), context);
    McItem it;
    it.where = where;
    std::string listing_default, listing_alpaca;
    int64_t answer = d["answer"].get<int64_t>();
    int gold = -1;
    for (size_t c = 0; c < d["choices"].size(); c++) {
      const json& ch = d["choices"][c];
      if (!ch.is_object() || !ch.contains("id") || !ch["id"].is_number_integer() || !ch.contains("text") ||
          !ch["text"].is_string()) {
        return Status::InvalidArgument(where + ": choice " + std::to_string(c) +
                                       " must be {\"id\": integer, \"text\": string}");
      }
      int64_t id = ch["id"].get<int64_t>();
      if (id < 0 || id >= 26) {
        return Status::InvalidArgument(where + ": choice id " + std::to_string(id) +
                                       " has no letter (0..25)");
      }
      const std::string text = ch["text"].get<std::string>();
      if (text.empty())
        return Status::InvalidArgument(where + ": choice " + std::to_string(c) + " has empty text");
      const std::string letter(1, static_cast<char>('A' + id));
      listing_default += letter + ": " + text + "\n";
      listing_alpaca += (c ? "\n- " : "- ") + text;
      if (id == answer && gold < 0) gold = static_cast<int>(c);
      if (t->style == PromptStyle::kDefault) {
        it.choices.push_back(letter);
      } else {
        it.choices.push_back(text);
      }
      it.continuations.push_back(it.choices.back());
    }
    if (gold < 0) {
      return Status::InvalidArgument(where + ": \"answer\" " + std::to_string(answer) +
                                     " is not the id of a choice");
    }
    // lm-eval takes the first choice equal to the target string as gold.
    for (int c = 0; c < gold; c++) {
      if (it.choices[c] == it.choices[gold]) {
        gold = c;
        break;
      }
    }
    it.gold = gold;
    if (t->style == PromptStyle::kDefault) {
      it.context = std::string(kDefaultDescription) + "【問題】\n" + q + "\n【選択肢】\n" + listing_default +
                   "\n【答え】\n";
    } else {
      it.context = std::string(kAlpacaDescription) + "### 入力:\n" + q +
                   "出力は以下から選択してください：\n" + listing_alpaca + "\n\n### 応答:\n";
    }
    t->items.push_back(std::move(it));
  }
  return Status::Ok();
}

}  // namespace

Status ParsePromptStyle(const std::string& name, PromptStyle* out) {
  if (name == "default") {
    *out = PromptStyle::kDefault;
  } else if (name == "alpaca") {
    *out = PromptStyle::kAlpaca;
  } else {
    return Status::InvalidArgument("--prompt-style must be \"default\" or \"alpaca\", got \"" + name + "\"");
  }
  return Status::Ok();
}

const char* PromptStyleName(PromptStyle s) {
  return s == PromptStyle::kDefault ? "default" : "alpaca";
}

Status LoadMcTask(const std::string& path, PromptStyle style, McTask* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open the task file");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  *out = McTask();
  out->path = path;
  out->style = style;
  out->name = std::filesystem::path(path).stem().string();
  // A whole-file JSON object with "data" is the fin-harness format; anything else is read as JSONL.
  json whole = json::parse(text, nullptr, false);
  Status s;
  if (!whole.is_discarded() && whole.is_object() && whole.contains("data")) {
    if (!utf8::IsValid(text)) return Status::InvalidArgument(path + ": invalid UTF-8");
    out->format = "fin-harness";
    s = ParseFinHarness(path, whole, out);
  } else {
    out->format = "lm-eval-jsonl";
    std::istringstream lines(text);
    s = ParseJsonl(path, lines, out);
  }
  if (!s.ok()) return s;
  if (out->items.empty()) return Status::InvalidArgument(path + ": no items");
  return Status::Ok();
}

McItemResult ScoreMcItem(const McItem& item, const std::vector<double>& logliks) {
  McItemResult r;
  r.gold = item.gold;
  r.logliks = logliks;
  double best = -std::numeric_limits<double>::infinity(), best_norm = best;
  for (size_t c = 0; c < logliks.size(); c++) {
    if (logliks[c] > best) {  // strict: the first maximum wins, as np.argmax
      best = logliks[c];
      r.pred = static_cast<int>(c);
    }
    const double len = static_cast<double>(CodePoints(item.choices[c]));
    const double norm = logliks[c] / len;  // choices are non-empty (checked on load)
    if (norm > best_norm) {
      best_norm = norm;
      r.pred_norm = static_cast<int>(c);
    }
  }
  return r;
}

double MeanStderr(const std::vector<double>& xs) {
  const size_t n = xs.size();
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  double mean = 0;
  for (double x : xs) mean += x;
  mean /= n;
  double ss = 0;
  for (double x : xs) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / (n - 1)) / std::sqrt(static_cast<double>(n));
}

void AggregateMc(std::vector<McItemResult> items, McResult* out) {
  std::vector<double> acc, acc_norm;
  for (const auto& r : items) {
    acc.push_back(r.pred == r.gold ? 1.0 : 0.0);
    acc_norm.push_back(r.pred_norm == r.gold ? 1.0 : 0.0);
  }
  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0.0 : s / v.size();
  };
  out->n = static_cast<int>(items.size());
  out->acc = mean(acc);
  out->acc_norm = mean(acc_norm);
  out->acc_stderr = MeanStderr(acc);
  out->acc_norm_stderr = MeanStderr(acc_norm);
  out->items = std::move(items);
}

Status EvaluateMcTask(const McTask& task, const LoglikFn& loglik, int limit, McResult* out) {
  const size_t n = limit > 0 ? std::min<size_t>(limit, task.items.size()) : task.items.size();
  constexpr size_t kItemsPerCall = 16;  // whole items per call keep shared prompts together
  std::vector<McItemResult> results;
  ProgressBar bar(task.name, n, "items");
  for (size_t first = 0; first < n; first += kItemsPerCall) {
    const size_t last = std::min(n, first + kItemsPerCall);
    std::vector<LoglikRequest> reqs;
    for (size_t i = first; i < last; i++) {
      for (const auto& cont : task.items[i].continuations) reqs.push_back({task.items[i].context, cont});
    }
    std::vector<LoglikResult> res;
    Status s = loglik(reqs, &res);
    if (!s.ok()) return s.WithPrefix(task.items[first].where);
    if (res.size() != reqs.size()) {
      return Status::Internal(task.path + ": the model returned " + std::to_string(res.size()) +
                              " scores for " + std::to_string(reqs.size()) + " requests");
    }
    size_t k = 0;
    for (size_t i = first; i < last; i++) {
      std::vector<double> ll;
      for (size_t c = 0; c < task.items[i].continuations.size(); c++) ll.push_back(res[k++].logprob);
      results.push_back(ScoreMcItem(task.items[i], ll));
    }
    bar.Update(last);
  }
  bar.Finish();
  AggregateMc(std::move(results), out);
  return Status::Ok();
}

nlohmann::ordered_json McResultToJson(const McTask& task, const McResult& r) {
  nlohmann::ordered_json j;
  j["file"] = task.path;
  j["format"] = task.format;
  j["prompt_style"] = task.format == "fin-harness" ? PromptStyleName(task.style) : "query";
  j["n"] = r.n;
  j["acc"] = r.acc;
  j["acc_stderr"] = r.acc_stderr;  // NaN (n < 2) is written as null
  j["acc_norm"] = r.acc_norm;
  j["acc_norm_stderr"] = r.acc_norm_stderr;
  nlohmann::ordered_json items = nlohmann::ordered_json::array();
  for (const auto& it : r.items) {
    items.push_back(
        {{"gold", it.gold}, {"pred", it.pred}, {"pred_norm", it.pred_norm}, {"logliks", it.logliks}});
  }
  j["items"] = std::move(items);
  return j;
}

}  // namespace fm
