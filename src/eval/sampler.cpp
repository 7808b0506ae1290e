#include "eval/sampler.h"

#include <algorithm>
#include <cmath>

#include "base/splitmix.h"

namespace fm {

Sampler::Sampler(const GenerateOptions& opts, int vocab)
    : temperature_(opts.temperature),
      top_p_(opts.top_p),
      penalty_(opts.repetition_penalty),
      top_k_(opts.top_k),
      vocab_(vocab),
      seed_(opts.seed),
      seen_(vocab, 0) {}

void Sampler::Observe(uint32_t id) {
  if (id < seen_.size() && !seen_[id]) {
    seen_[id] = 1;
    seen_ids_.push_back(id);
  }
}

uint32_t Sampler::Pick(float* logits) {
  if (penalty_ != 1.0f) {
    for (uint32_t id : seen_ids_) logits[id] = logits[id] > 0 ? logits[id] / penalty_ : logits[id] * penalty_;
  }
  if (temperature_ <= 0.0f) {
    int best = 0;
    for (int i = 1; i < vocab_; i++) {
      if (logits[i] > logits[best]) best = i;
    }
    return static_cast<uint32_t>(best);
  }
  // Candidates by decreasing logit, ties by increasing id (so top_k = 1 is the greedy token).
  auto before = [](const std::pair<float, uint32_t>& a, const std::pair<float, uint32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  candidates_.resize(vocab_);
  for (int i = 0; i < vocab_; i++) candidates_[i] = {logits[i], static_cast<uint32_t>(i)};
  if (top_k_ > 0 && top_k_ < vocab_) {
    std::nth_element(candidates_.begin(), candidates_.begin() + top_k_, candidates_.end(), before);
    candidates_.resize(top_k_);
  }
  std::sort(candidates_.begin(), candidates_.end(), before);
  // Unnormalised probabilities exp((l - l_max) / T), in place of the logits.
  const float top = candidates_[0].first;
  double total = 0;
  for (auto& c : candidates_) {
    c.first = static_cast<float>(std::exp(static_cast<double>(c.first - top) / temperature_));
    total += c.first;
  }
  size_t keep = candidates_.size();
  if (top_p_ < 1.0f) {
    double cum = 0;
    for (size_t i = 0; i < candidates_.size(); i++) {
      if (cum >= top_p_ * total) {
        keep = i;
        break;
      }
      cum += candidates_[i].first;
    }
  }
  double kept = 0;
  for (size_t i = 0; i < keep; i++) kept += candidates_[i].first;
  const double u = static_cast<double>(SplitMix64(seed_ + draws_++) >> 11) * 0x1.0p-53 * kept;
  double cum = 0;
  for (size_t i = 0; i < keep; i++) {
    cum += candidates_[i].first;
    if (u < cum) return candidates_[i].second;
  }
  return candidates_[keep - 1].second;
}

}  // namespace fm
