#include "train/data_loader.h"

#include <cstdlib>
#include <utility>

#include "base/splitmix.h"

namespace fm {

namespace {

// Stream ids keep the hashes of different uses apart.
constexpr uint64_t kMainStream = 1, kReplayStream = 2, kMixStream = 3;

// Uniform integer in [0, bound) from a SplitMix64 sequence (Lemire's multiply-shift with rejection,
// unbiased).
uint64_t Bounded(uint64_t* state, uint64_t bound) {
  for (;;) {
    *state += 1;
    const uint64_t r = SplitMix64(*state);
    const unsigned __int128 m = static_cast<unsigned __int128>(r) * bound;
    const uint64_t low = static_cast<uint64_t>(m);
    if (low >= bound || low >= (-bound) % bound) return static_cast<uint64_t>(m >> 64);
  }
}

}  // namespace

Status ParseReplaySpec(const std::string& s, ReplaySpec* out) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == s.size()) {
    return Status::InvalidArgument("--replay '" + s +
                                   "': expected SHARD_FOLDER:FRACTION, e.g. general-tok:0.1");
  }
  const std::string frac = s.substr(colon + 1);
  char* end = nullptr;
  const double f = std::strtod(frac.c_str(), &end);
  if (end == frac.c_str() || *end != '\0' || !(f >= 0.0 && f < 1.0)) {
    return Status::InvalidArgument("--replay '" + s + "': fraction '" + frac +
                                   "' must be a number in [0, 1), e.g. general-tok:0.1");
  }
  out->path = s.substr(0, colon);
  out->fraction = f;
  return Status::Ok();
}

DataLoader::DataLoader(const WindowSource* main, const WindowSource* replay, double replay_fraction,
                       uint64_t seed)
    : main_(main), replay_(replay), fraction_(replay != nullptr ? replay_fraction : 0.0), seed_(seed) {}

bool DataLoader::IsReplaySlot(uint64_t seed, uint64_t g, double fraction) {
  if (fraction <= 0.0) return false;
  const uint64_t h = SplitMix64(SplitMix64(seed ^ (kMixStream << 56)) ^ g);
  return static_cast<double>(h >> 11) * 0x1.0p-53 < fraction;
}

uint64_t DataLoader::WindowOfDraw(uint64_t seed, uint64_t stream, uint64_t n, uint64_t k,
                                  std::vector<uint64_t>* perm_cache, uint64_t* cached_epoch) {
  const uint64_t epoch = k / n;
  if (*cached_epoch != epoch || perm_cache->size() != n) {
    perm_cache->resize(n);
    for (uint64_t i = 0; i < n; i++) (*perm_cache)[i] = i;
    uint64_t state = SplitMix64(SplitMix64(seed ^ (stream << 56)) ^ epoch);
    for (uint64_t i = n - 1; i > 0; i--) std::swap((*perm_cache)[i], (*perm_cache)[Bounded(&state, i + 1)]);
    *cached_epoch = epoch;
  }
  return (*perm_cache)[k % n];
}

Status DataLoader::NextBatch(int global_count, int first, int count, uint32_t* inputs, uint32_t* targets) {
  const size_t T = static_cast<size_t>(main_->seq_len());
  for (int j = 0; j < global_count; j++) {
    const bool replay = IsReplaySlot(seed_, pos_.slots, fraction_);
    pos_.slots++;
    const WindowSource* src = replay ? replay_ : main_;
    const uint64_t k = replay ? pos_.replay_taken++ : pos_.main_taken++;
    if (j < first || j >= first + count) continue;
    const uint64_t w =
        replay ? WindowOfDraw(seed_, kReplayStream, src->num_windows(), k, &replay_perm_, &replay_epoch_)
               : WindowOfDraw(seed_, kMainStream, src->num_windows(), k, &main_perm_, &main_epoch_);
    const size_t row = static_cast<size_t>(j - first);
    FM_RETURN_IF_ERROR(src->Read(w, inputs + row * T, targets + row * T));
  }
  return Status::Ok();
}

Status ReadWindows(const WindowSource& source, uint64_t first, int count, uint32_t* inputs,
                   uint32_t* targets) {
  const size_t T = static_cast<size_t>(source.seq_len());
  for (int j = 0; j < count; j++) {
    FM_RETURN_IF_ERROR(source.Read(first + j, inputs + j * T, targets + j * T));
  }
  return Status::Ok();
}

}  // namespace fm
