// IFEval: instruction-following evaluation with verifiable instructions (Zhou et al. 2023), on the original
// English data or M-IFEval's (en_input_data.jsonl / ja_input_data.jsonl: one JSON object per line with "key",
// "prompt", "instruction_id_list" and "kwargs"). The model answers each prompt as a one-turn chat; every
// instruction is then checked on the reply (ifeval_checkers.h):
//
//   strict  the reply as generated (an empty reply follows nothing);
//   loose   followed if any of IFEval's eight reply variants follows it (ifeval_checkers.h LooseVariants).
//
// Accuracy at prompt level (all of a prompt's instructions followed) and instruction level. Instructions
// whose id is not implemented are listed with their counts and left out: out of the instruction counts, and
// out of the prompt's "all followed" test; a prompt with no implemented instruction is left out of the prompt
// count.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "eval/ifeval_checkers.h"
#include "eval/language_model.h"

namespace fm::ifeval {

struct Instruction {
  std::string id;
  nlohmann::json kwargs;
  InstructionCheck check;  // empty when the id is not implemented
};

struct Prompt {
  int64_t key = 0;
  std::string prompt;
  std::vector<Instruction> instructions;
  int line = 0;  // 1-based line in the file
};

// Reads an IFEval JSONL file and builds every check, so that a malformed line or argument fails before any
// generation. Errors name the file and line.
Status LoadPrompts(const std::string& path, std::vector<Prompt>* out);

struct InstructionResult {
  std::string id;
  bool implemented = false;
  bool strict = false, loose = false;
};

struct PromptResult {
  int64_t key = 0;
  std::string prompt, response;
  std::vector<InstructionResult> instructions;
};

// Checks `response` against every instruction of `p`.
PromptResult ScoreResponse(const Prompt& p, const std::string& response);

struct Summary {
  int prompts = 0;       // prompts with at least one implemented instruction
  int instructions = 0;  // implemented instructions checked
  double prompt_strict = 0, prompt_loose = 0, inst_strict = 0, inst_loose = 0;  // accuracies in [0, 1]
  std::map<std::string, int> not_implemented;                        // id -> occurrences (excluded)
  std::map<std::string, std::pair<double, double>> per_instruction;  // id -> (strict, loose) accuracy
  std::map<std::string, int> per_instruction_count;
};

Summary Summarize(const std::vector<PromptResult>& results);

// Generates a reply for every prompt with `chat` (one user turn, greedy, at most `max_new_tokens`) and scores
// it. Shows a progress bar; errors from the model are returned with the prompt's line.
Status Run(const std::vector<Prompt>& prompts, const ChatFn& chat, int max_new_tokens,
           std::vector<PromptResult>* results);

// {"prompts", "instructions", "prompt_strict", ..., "not_implemented": {...}, "per_instruction": {...}}
nlohmann::ordered_json SummaryToJson(const Summary& s);

}  // namespace fm::ifeval
