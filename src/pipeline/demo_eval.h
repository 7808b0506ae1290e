// The demo's three evaluations of one model folder (the evaluation sets come from demo_world.h):
//
//   finance_mc_accuracy     finance knowledge as multiple choice: the choice with the highest summed
//                           log-likelihood after "The ATTRIBUTE of COMPANY is" must be the true value.
//   general_chat_format     instruction following on held-out general questions in chat form: the reply is
//                           exactly "Answer: VALUE." and the model ends its turn (end-of-turn token) there.
//   finance_chat_accuracy   the paper's claim: finance questions in chat form, graded for format AND
//                           correctness (formatted as above and VALUE is the true value).
// plus two diagnostics: general_chat_accuracy (format and correct on the held-out general questions) and
// finance_chat_format (format only, on the finance questions).
//
// Replies are greedy, at most 16 new tokens (every right answer takes fewer).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "pipeline/demo_world.h"

namespace fm {

inline constexpr const char* kDemoPrimaryMetric = "finance_chat_accuracy";

struct DemoEvalSets {
  std::vector<DemoMcQuestion> finance_mc;
  std::vector<DemoChatQuestion> general_chat, finance_chat;
};

// Whether `reply` is "Answer: X." with X non-empty and on one line; sets *value = X.
bool ParseDemoAnswer(const std::string& reply, std::string* value);

struct DemoModelEval {
  std::map<std::string, double> metrics;     // the five metrics above
  nlohmann::json details;                    // per-attribute accuracy and every reply (for eval/<model>.json)
  std::vector<std::string> finance_replies;  // reply to each finance_chat question, in order
};

// Loads the model folder and runs the three evaluations.
Status EvaluateDemoModel(const std::string& model_dir, const DemoEvalSets& sets, DemoModelEval* out);

}  // namespace fm
