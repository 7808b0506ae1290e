#include "pipeline/demo_eval.h"

#include <memory>

#include "eval/language_model.h"

namespace fm {
namespace {

constexpr int kMaxNewTokens = 16;  // the longest right answer ("Answer: $412 million.") is ~8

struct Tally {
  int format = 0, correct = 0, total = 0;
};

double Share(int n, int total) {
  return total ? static_cast<double>(n) / total : 0.0;
}

// Asks every question; tallies format and correctness overall and by kind.
Status AskAll(LanguageModel* lm, const std::vector<DemoChatQuestion>& questions, Tally* all,
              std::map<std::string, Tally>* by_kind, nlohmann::json* replies,
              std::vector<std::string>* texts) {
  GenerateOptions g;
  g.max_new_tokens = kMaxNewTokens;
  g.temperature = 0.0f;
  for (const DemoChatQuestion& q : questions) {
    GenerateResult r;
    FM_RETURN_IF_ERROR(lm->GenerateChat({{"user", q.question}}, g, &r));
    std::string value;
    const bool format = r.finish_reason == "eos" && ParseDemoAnswer(r.text, &value);
    const bool correct = format && value == q.answer;
    for (Tally* t : {all, &(*by_kind)[q.kind]}) {
      t->total++;
      t->format += format;
      t->correct += correct;
    }
    replies->push_back({{"question", q.question},
                        {"expected", q.answer},
                        {"reply", r.text},
                        {"finish", r.finish_reason},
                        {"format", format},
                        {"correct", correct}});
    if (texts) texts->push_back(r.text);
  }
  return Status::Ok();
}

nlohmann::json KindTable(const std::map<std::string, Tally>& by_kind) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [kind, t] : by_kind) {
    j[kind] = {{"format", Share(t.format, t.total)}, {"accuracy", Share(t.correct, t.total)}, {"n", t.total}};
  }
  return j;
}

}  // namespace

bool ParseDemoAnswer(const std::string& reply, std::string* value) {
  static const std::string kPrefix = "Answer: ";
  if (reply.size() <= kPrefix.size() + 1 || reply.compare(0, kPrefix.size(), kPrefix) != 0 ||
      reply.back() != '.') {
    return false;
  }
  std::string v = reply.substr(kPrefix.size(), reply.size() - kPrefix.size() - 1);
  if (v.empty() || v.find('\n') != std::string::npos || v.front() == ' ' || v.back() == ' ') return false;
  *value = v;
  return true;
}

Status EvaluateDemoModel(const std::string& model_dir, const DemoEvalSets& sets, DemoModelEval* out) {
  *out = DemoModelEval();
  std::unique_ptr<LanguageModel> lm;
  FM_RETURN_IF_ERROR(LanguageModel::Load(model_dir, LanguageModelOptions(), &lm));

  // (1) Multiple choice by log-likelihood.
  std::vector<LoglikRequest> requests;
  for (const DemoMcQuestion& q : sets.finance_mc) {
    for (const std::string& c : q.choices) requests.push_back({q.context, c});
  }
  std::vector<LoglikResult> ll;
  FM_RETURN_IF_ERROR(lm->LogLikelihoods(requests, &ll));
  std::map<std::string, Tally> mc_kind;
  int mc_correct = 0;
  size_t k = 0;
  for (const DemoMcQuestion& q : sets.finance_mc) {
    int best = 0;
    for (size_t c = 0; c < q.choices.size(); c++) {
      if (ll[k + c].logprob > ll[k + best].logprob) best = static_cast<int>(c);
    }
    k += q.choices.size();
    const bool ok = best == q.label;
    mc_correct += ok;
    Tally& t = mc_kind[q.kind];
    t.total++;
    t.correct += ok;
  }

  // (2) and (3) in chat form.
  Tally general, finance;
  std::map<std::string, Tally> general_kind, finance_kind;
  nlohmann::json general_replies = nlohmann::json::array(), finance_replies = nlohmann::json::array();
  FM_RETURN_IF_ERROR(AskAll(lm.get(), sets.general_chat, &general, &general_kind, &general_replies, nullptr));
  FM_RETURN_IF_ERROR(
      AskAll(lm.get(), sets.finance_chat, &finance, &finance_kind, &finance_replies, &out->finance_replies));

  out->metrics["finance_mc_accuracy"] = Share(mc_correct, static_cast<int>(sets.finance_mc.size()));
  out->metrics["general_chat_format"] = Share(general.format, general.total);
  out->metrics[kDemoPrimaryMetric] = Share(finance.correct, finance.total);
  out->metrics["general_chat_accuracy"] = Share(general.correct, general.total);
  out->metrics["finance_chat_format"] = Share(finance.format, finance.total);
  nlohmann::json mc_by_kind = nlohmann::json::object();
  for (const auto& [kind, t] : mc_kind)
    mc_by_kind[kind] = {{"accuracy", Share(t.correct, t.total)}, {"n", t.total}};
  out->details = {{"metrics", out->metrics},
                  {"finance_mc_by_attribute", mc_by_kind},
                  {"general_chat_by_kind", KindTable(general_kind)},
                  {"finance_chat_by_attribute", KindTable(finance_kind)},
                  {"general_chat", general_replies},
                  {"finance_chat", finance_replies}};
  return Status::Ok();
}

}  // namespace fm
