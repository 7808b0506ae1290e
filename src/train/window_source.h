// WindowSource: a fixed set of training samples ("windows") of T input tokens and T targets, addressed by
// index. Pretraining windows are packed from token shards (token_windows.h); instruction-tuning windows are
// rendered chat examples with targets only on assistant tokens (chat_windows.h). The DataLoader shuffles and
// mixes windows without knowing which kind it holds.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace fm {

class WindowSource {
 public:
  virtual ~WindowSource() = default;
  virtual uint64_t num_windows() const = 0;
  // T: tokens per window (inputs and targets each hold T).
  virtual int seq_len() const = 0;
  // Fills inputs (T) and targets (T) of window i < num_windows(). A target of Model::kIgnoreIndex
  // (0xffffffff) carries no loss. Thread-compatible (const reads only).
  virtual Status Read(uint64_t i, uint32_t* inputs, uint32_t* targets) const = 0;
  // Where the windows come from, for messages ("data/train_*.bin (3 shards, 1.2M tokens)").
  virtual std::string Describe() const = 0;
};

}  // namespace fm
