#include <cmath>

#include "model/kernels.h"

namespace fm {

void rope_inv_freq(float* inv_freq, int HD, float theta, bool llama3, float factor, float low_freq,
                   float high_freq, int original_max_position) {
  const double kPi = 3.14159265358979323846;
  for (int i = 0; i < HD / 2; i++) {
    double f = 1.0 / std::pow(static_cast<double>(theta), 2.0 * i / HD);
    if (llama3) {
      // Llama 3.1: long wavelengths are slowed down by `factor`, short ones kept, the band between smoothed.
      const double wavelen = 2 * kPi / f;
      const double low_wavelen = original_max_position / low_freq;
      const double high_wavelen = original_max_position / high_freq;
      if (wavelen > low_wavelen) {
        f = f / factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth = (original_max_position / wavelen - low_freq) / (high_freq - low_freq);
        f = (1 - smooth) * f / factor + smooth * f;
      }
    }
    inv_freq[i] = static_cast<float>(f);
  }
}

void rope_tables(float* cos, float* sin, const float* inv_freq, int T, int HD, int pos0) {
  const int half = HD / 2;
#pragma omp parallel for schedule(static)
  for (int t = 0; t < T; t++) {
    for (int i = 0; i < half; i++) {
      const double a = static_cast<double>(pos0 + t) * inv_freq[i];
      cos[static_cast<int64_t>(t) * half + i] = static_cast<float>(std::cos(a));
      sin[static_cast<int64_t>(t) * half + i] = static_cast<float>(std::sin(a));
    }
  }
}

namespace {

// sign = +1: forward rotation; sign = -1: its transpose (the inverse rotation), for the backward pass.
void Rotate(float* x, const float* cos, const float* sin, int B, int T, int H, int HD, int stride,
            float sign) {
  const int half = HD / 2;
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; b++) {
    for (int t = 0; t < T; t++) {
      const float* c = cos + static_cast<int64_t>(t) * half;
      const float* s = sin + static_cast<int64_t>(t) * half;
      float* row = x + (static_cast<int64_t>(b) * T + t) * stride;
      for (int h = 0; h < H; h++) {
        float* x1 = row + static_cast<int64_t>(h) * HD;
        float* x2 = x1 + half;
#pragma omp simd
        for (int i = 0; i < half; i++) {
          const float a = x1[i], b2 = x2[i], si = sign * s[i];
          x1[i] = a * c[i] - b2 * si;
          x2[i] = b2 * c[i] + a * si;
        }
      }
    }
  }
}

}  // namespace

void rope_forward(float* x, const float* cos, const float* sin, int B, int T, int H, int HD, int stride) {
  Rotate(x, cos, sin, B, T, H, HD, stride, 1.0f);
}

void rope_backward(float* dx, const float* cos, const float* sin, int B, int T, int H, int HD, int stride) {
  Rotate(dx, cos, sin, B, T, H, HD, stride, -1.0f);
}

}  // namespace fm
