// Pieces shared by the training attention (attention.cpp) and the KV-cache attention (attention_cached.cpp).
#pragma once

#include <cblas.h>

namespace fm::attention_internal {

// OpenBLAS single-threaded inside our own OpenMP tasks, restored afterwards.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() : saved_(openblas_get_num_threads()) { openblas_set_num_threads(1); }
  ~SingleThreadedBlas() { openblas_set_num_threads(saved_); }

 private:
  int saved_;
};

// Keys visible to query t: [KeyStart(t), t] (window 0 = no sliding window).
inline int KeyStart(int t, int window) {
  return window > 0 && t - window + 1 > 0 ? t - window + 1 : 0;
}

}  // namespace fm::attention_internal
