// LrSchedule: the learning rate of each optimizer step — linear warmup from zero, then cosine or linear decay
// to a floor. Continual pretraining re-warms from zero: a run (or a resumed run) always starts its schedule
// at step 0 of its own --steps, never at the rate the base model's pretraining ended with.
#pragma once

#include <string>

#include "base/status.h"

namespace fm {

enum class LrDecay { kCosine, kLinear };

// Parses "cosine" or "linear".
Status ParseLrDecay(const std::string& s, LrDecay* out);
const char* LrDecayName(LrDecay d);

struct LrSchedule {
  float max_lr = 3e-4f;
  float min_lr = 0.0f;  // the floor reached at the last step
  int warmup_steps = 0;
  int total_steps = 1;
  LrDecay decay = LrDecay::kCosine;

  // Rate of optimizer step `step` (0-based, 0 <= step < total_steps):
  //   step < warmup:  max_lr * (step + 1) / warmup            (the first step is not wasted on lr = 0)
  //   afterwards:     min_lr + (max_lr - min_lr) * f(p),  p = (step - warmup) / (total - 1 - warmup) in [0,
  //   1]
  //                   f = (1 + cos(pi p)) / 2 (cosine) or 1 - p (linear); the last step runs at exactly
  //                   min_lr.
  float At(int step) const;
  // Checks 0 <= min_lr <= max_lr, 0 <= warmup <= total, total >= 1.
  Status Validate() const;
};

}  // namespace fm
