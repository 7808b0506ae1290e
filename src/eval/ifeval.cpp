#include "eval/ifeval.h"

#include <fstream>

#include "base/progress.h"
#include "eval/ifeval_text.h"
#include "tokenizer/utf8.h"

namespace fm::ifeval {

using json = nlohmann::json;

Status LoadPrompts(const std::string& path, std::vector<Prompt>* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open the IFEval file");
  out->clear();
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    lineno++;
    const std::string where = path + ":" + std::to_string(lineno);
    if (Strip(line).empty()) continue;
    if (!utf8::IsValid(line)) return Status::InvalidArgument(where + ": invalid UTF-8");
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return Status::InvalidArgument(where + ": not a JSON object (IFEval files hold one object per line)");
    }
    for (const char* k : {"prompt", "instruction_id_list", "kwargs"}) {
      if (!j.contains(k)) return Status::InvalidArgument(where + ": missing \"" + k + "\"");
    }
    if (!j["prompt"].is_string() || !j["instruction_id_list"].is_array() || !j["kwargs"].is_array()) {
      return Status::InvalidArgument(
          where + ": \"prompt\" must be a string, \"instruction_id_list\" and \"kwargs\" lists");
    }
    if (j["instruction_id_list"].size() != j["kwargs"].size()) {
      return Status::InvalidArgument(where + ": \"instruction_id_list\" has " +
                                     std::to_string(j["instruction_id_list"].size()) +
                                     " entries but \"kwargs\" " + std::to_string(j["kwargs"].size()));
    }
    Prompt p;
    p.line = lineno;
    p.key = j.contains("key") && j["key"].is_number_integer() ? j["key"].get<int64_t>() : lineno;
    p.prompt = j["prompt"].get<std::string>();
    for (size_t i = 0; i < j["kwargs"].size(); i++) {
      Instruction ins;
      if (!j["instruction_id_list"][i].is_string()) {
        return Status::InvalidArgument(where + ": instruction id " + std::to_string(i) + " is not a string");
      }
      ins.id = j["instruction_id_list"][i].get<std::string>();
      ins.kwargs = j["kwargs"][i];
      Status s = BuildInstructionCheck(ins.id, ins.kwargs, &ins.check);
      if (s.code() == Status::Code::kUnsupported) {
        ins.check = nullptr;
      } else if (!s.ok()) {
        return s.WithPrefix(where);
      }
      p.instructions.push_back(std::move(ins));
    }
    out->push_back(std::move(p));
  }
  if (out->empty()) return Status::InvalidArgument(path + ": no prompts");
  return Status::Ok();
}

PromptResult ScoreResponse(const Prompt& p, const std::string& response) {
  PromptResult r;
  r.key = p.key;
  r.prompt = p.prompt;
  r.response = response;
  const bool nonempty = !Strip(response).empty();
  std::vector<std::string> variants = LooseVariants(response);
  for (const auto& ins : p.instructions) {
    InstructionResult ir;
    ir.id = ins.id;
    ir.implemented = static_cast<bool>(ins.check);
    if (ir.implemented) {
      ir.strict = nonempty && ins.check(response);
      for (const auto& v : variants) {
        if (!Strip(v).empty() && ins.check(v)) {
          ir.loose = true;
          break;
        }
      }
    }
    r.instructions.push_back(ir);
  }
  return r;
}

Summary Summarize(const std::vector<PromptResult>& results) {
  Summary s;
  int ps = 0, pl = 0, is = 0, il = 0;
  std::map<std::string, std::pair<int, int>> per;
  for (const auto& r : results) {
    bool any = false, all_s = true, all_l = true;
    for (const auto& ir : r.instructions) {
      if (!ir.implemented) {
        s.not_implemented[ir.id]++;
        continue;
      }
      any = true;
      s.instructions++;
      is += ir.strict;
      il += ir.loose;
      all_s = all_s && ir.strict;
      all_l = all_l && ir.loose;
      per[ir.id].first += ir.strict;
      per[ir.id].second += ir.loose;
      s.per_instruction_count[ir.id]++;
    }
    if (!any) continue;
    s.prompts++;
    ps += all_s;
    pl += all_l;
  }
  auto frac = [](int a, int b) { return b > 0 ? static_cast<double>(a) / b : 0.0; };
  s.prompt_strict = frac(ps, s.prompts);
  s.prompt_loose = frac(pl, s.prompts);
  s.inst_strict = frac(is, s.instructions);
  s.inst_loose = frac(il, s.instructions);
  for (const auto& [id, c] : per) {
    int n = s.per_instruction_count[id];
    s.per_instruction[id] = {frac(c.first, n), frac(c.second, n)};
  }
  return s;
}

Status Run(const std::vector<Prompt>& prompts, const ChatFn& chat, int max_new_tokens,
           std::vector<PromptResult>* results) {
  results->clear();
  ProgressBar bar("ifeval", prompts.size(), "prompts");
  for (size_t i = 0; i < prompts.size(); i++) {
    std::string reply;
    Status s = chat({ChatMessage{"user", prompts[i].prompt}}, max_new_tokens, &reply);
    if (!s.ok()) return s.WithPrefix("IFEval prompt at line " + std::to_string(prompts[i].line));
    results->push_back(ScoreResponse(prompts[i], reply));
    bar.Update(i + 1);
  }
  bar.Finish();
  return Status::Ok();
}

nlohmann::ordered_json SummaryToJson(const Summary& s) {
  nlohmann::ordered_json j;
  j["prompts"] = s.prompts;
  j["instructions"] = s.instructions;
  j["prompt_strict"] = s.prompt_strict;
  j["inst_strict"] = s.inst_strict;
  j["prompt_loose"] = s.prompt_loose;
  j["inst_loose"] = s.inst_loose;
  j["not_implemented"] = nlohmann::ordered_json::object();
  for (const auto& [id, n] : s.not_implemented) j["not_implemented"][id] = n;
  j["per_instruction"] = nlohmann::ordered_json::object();
  for (const auto& [id, acc] : s.per_instruction) {
    j["per_instruction"][id] = {
        {"count", s.per_instruction_count.at(id)}, {"strict", acc.first}, {"loose", acc.second}};
  }
  return j;
}

}  // namespace fm::ifeval
