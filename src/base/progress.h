// A one-line terminal progress bar with rate and ETA, drawn on stderr. Silent when stderr is not a terminal
// unless FINMERGE_PROGRESS=1, so logs and tests stay clean. Thread-compatible: call Update from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace fm {

class ProgressBar {
 public:
  // `total` in `unit`s (e.g. bytes with unit "B" shows MB/s; tokens with unit "tok").
  ProgressBar(std::string label, uint64_t total, std::string unit);
  ~ProgressBar();
  // Sets the amount done so far and an optional suffix (e.g. "loss 2.31"). Redraws at most 10 times a second.
  void Update(uint64_t done, const std::string& suffix = "");
  // Draws the final state and ends the line.
  void Finish();
  double ElapsedSeconds() const;

 private:
  void Draw(bool final);
  std::string label_, unit_, suffix_;
  uint64_t total_, done_ = 0;
  bool enabled_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1.23 GB", "512 KB", ...
std::string HumanBytes(double bytes);

}  // namespace fm
