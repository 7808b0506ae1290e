// Sampler: picks the next token from a row of logits as Hugging Face's generate does, in this order:
// repetition penalty (CTRL: positive logits of already seen tokens divided by the penalty, negative ones
// multiplied), then greedy argmax when temperature is 0, else temperature, top-k, top-p (the smallest set of
// most likely tokens whose probability reaches top_p) and a draw from the renormalised distribution.
// Draws come from SplitMix64 over (seed + draw index), so a seed fixes the whole sequence.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "eval/language_model.h"

namespace fm {

class Sampler {
 public:
  Sampler(const GenerateOptions& opts, int vocab);
  // Marks a token as seen (prompt and generated tokens) for the repetition penalty.
  void Observe(uint32_t id);
  // The next token for `logits` (V), which it modifies (penalised). Greedy ties go to the lowest id.
  uint32_t Pick(float* logits);

 private:
  float temperature_, top_p_, penalty_;
  int top_k_, vocab_;
  uint64_t seed_, draws_ = 0;
  std::vector<uint8_t> seen_;
  std::vector<uint32_t> seen_ids_;
  std::vector<std::pair<float, uint32_t>> candidates_;  // (logit, id)
};

}  // namespace fm
