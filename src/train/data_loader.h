// DataLoader: the order in which training windows are drawn — shuffled by seed, epoch after epoch, optionally
// mixed with "replay" windows from a general corpus at a fixed fraction (a standard guard against
// catastrophic forgetting during continual pretraining).
//
// Every drawn window occupies one "slot" of a global stream. Slot g is a replay slot when
// hash(seed, g) / 2^64 < replay_fraction, else a main slot. Each source keeps its own count of windows drawn;
// its k-th window is perm_e[k mod n] with e = k / n the epoch and perm_e a seeded Fisher-Yates permutation of
// its n windows (a fresh permutation every epoch). The whole position is therefore three counters
// (DataPosition), saved with the trainer state and restored exactly; no hidden RNG state exists.
//
// Distributed data parallelism: every rank walks the same slots; a step's global batch is a run of
// consecutive slots, and each rank reads only its own part of it (NextBatch's `first`/`count`).
//
// Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "train/window_source.h"

namespace fm {

struct DataPosition {
  uint64_t slots = 0;         // windows drawn in total
  uint64_t main_taken = 0;    // of which from the main source
  uint64_t replay_taken = 0;  // of which from the replay source
};

// "--replay PATH:FRACTION": a token shard folder and the fraction of windows drawn from it, 0 <= f < 1.
struct ReplaySpec {
  std::string path;
  double fraction = 0.0;
};
// Parses "PATH:FRACTION" (the last ':' splits, so PATH may contain ':'). One-line error on bad syntax.
Status ParseReplaySpec(const std::string& s, ReplaySpec* out);

class DataLoader {
 public:
  // `replay` may be null (then replay_fraction must be 0). Sources must outlive the loader and share seq_len.
  DataLoader(const WindowSource* main, const WindowSource* replay, double replay_fraction, uint64_t seed);

  // Draws the next `global_count` windows (one global batch) and fills windows [first, first + count) of them
  // into inputs and targets, (count, T) each. Windows outside that range are drawn but not read.
  Status NextBatch(int global_count, int first, int count, uint32_t* inputs, uint32_t* targets);

  const DataPosition& position() const { return pos_; }
  void set_position(const DataPosition& p) { pos_ = p; }
  int seq_len() const { return main_->seq_len(); }

  // Window index of the k-th draw from a source of n windows (exposed for tests).
  static uint64_t WindowOfDraw(uint64_t seed, uint64_t stream, uint64_t n, uint64_t k,
                               std::vector<uint64_t>* perm_cache, uint64_t* cached_epoch);
  // Whether slot g draws from the replay source.
  static bool IsReplaySlot(uint64_t seed, uint64_t g, double fraction);

 private:
  const WindowSource* main_;
  const WindowSource* replay_;
  double fraction_;
  uint64_t seed_;
  DataPosition pos_;
  // The current epoch's permutation of each source (recomputed when the epoch changes).
  std::vector<uint64_t> main_perm_, replay_perm_;
  uint64_t main_epoch_ = UINT64_MAX, replay_epoch_ = UINT64_MAX;
};

// Reads windows [first, first + count) of `source` in order into inputs/targets, (count, T) each
// (validation).
Status ReadWindows(const WindowSource& source, uint64_t first, int count, uint32_t* inputs,
                   uint32_t* targets);

}  // namespace fm
