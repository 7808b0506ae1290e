#include "train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace fm {

Status ParseLrDecay(const std::string& s, LrDecay* out) {
  if (s == "cosine") {
    *out = LrDecay::kCosine;
  } else if (s == "linear") {
    *out = LrDecay::kLinear;
  } else {
    return Status::InvalidArgument("--decay: unknown schedule '" + s + "' (use cosine or linear)");
  }
  return Status::Ok();
}

const char* LrDecayName(LrDecay d) {
  return d == LrDecay::kCosine ? "cosine" : "linear";
}

float LrSchedule::At(int step) const {
  if (step < warmup_steps) {
    return max_lr * static_cast<float>(step + 1) / static_cast<float>(warmup_steps);
  }
  const int span = total_steps - 1 - warmup_steps;
  if (span <= 0) return max_lr;  // no room to decay: the whole run after warmup is at the peak
  double p = std::clamp(static_cast<double>(step - warmup_steps) / span, 0.0, 1.0);
  double f = decay == LrDecay::kCosine ? 0.5 * (1.0 + std::cos(M_PI * p)) : 1.0 - p;
  return static_cast<float>(min_lr + (static_cast<double>(max_lr) - min_lr) * f);
}

Status LrSchedule::Validate() const {
  if (total_steps < 1) return Status::InvalidArgument("--steps must be at least 1");
  if (!(max_lr > 0.0f) || !std::isfinite(max_lr)) return Status::InvalidArgument("--lr must be positive");
  if (min_lr < 0.0f || min_lr > max_lr) {
    return Status::InvalidArgument("--min-lr " + std::to_string(min_lr) + " must lie in [0, --lr " +
                                   std::to_string(max_lr) + "]");
  }
  if (warmup_steps < 0 || warmup_steps > total_steps) {
    return Status::InvalidArgument("--warmup " + std::to_string(warmup_steps) + " must lie in [0, --steps " +
                                   std::to_string(total_steps) + "]");
  }
  return Status::Ok();
}

}  // namespace fm
