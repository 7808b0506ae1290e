// The verifiable instructions of IFEval (google-research/instruction_following_eval) and of M-IFEval's
// Japanese set (lightblue-tech/M-IFEval, ids prefixed "ja:"), each a check of one response. Semantics follow
// the reference checkers (Python), including their quirks; where the reference needs a tool finmerge does not
// have (NLTK Punkt, langdetect, the Janome morphological analyser) an approximation is used and documented in
// docs/evaluation.md. Instruction ids may carry a language prefix ("en:" or "ja:"); ids without one are
// English (the original IFEval data).
//
// Thread-safety: a built InstructionCheck is immutable and may be called from several threads.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace fm::ifeval {

// True when `response` follows the instruction.
using InstructionCheck = std::function<bool(std::string_view response)>;

// Builds the check for instruction `id` with its `kwargs` (a JSON object; null values mean "absent").
// Unsupported: the id is not implemented (the caller lists it and leaves it out of the counts).
// InvalidArgument: a required argument is missing or malformed (message names it).
Status BuildInstructionCheck(const std::string& id, const nlohmann::json& kwargs, InstructionCheck* out);

// Every implemented id, with its language prefix ("en:keywords:existence", "ja:letters:kanji", ...).
std::vector<std::string> ImplementedInstructions();

// The response variants IFEval's loose accuracy tries (an instruction counts as followed if any variant
// follows it): the response; without "*"; without its first line; without its last line; without both; and
// the last three without "*". Empty variants are skipped by the caller.
std::vector<std::string> LooseVariants(std::string_view response);

}  // namespace fm::ifeval
