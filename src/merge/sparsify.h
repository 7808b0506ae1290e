// Sparsification of task vectors (deltas from the base model), as used by TIES, DARE, Model Breadcrumbs and
// DELLA. All functions work in place on a delta of n elements.
//
// Where mergekit's behaviour is ill-defined, finmerge's choice (also in README.md, "Merge methods"):
// - random (DARE) rescales kept elements by 1/density (the DARE paper), which keeps the expectation of the
//   delta unchanged and makes the method elementwise (streamable). Randomness is a counter-based hash of
//   (random_seed, tensor name, model index, element index): results do not depend on thread count or chunking.
// - magnitude_outliers with gamma*n < 1 keeps the top of the range (mergekit's slice [n_bot:-0] is empty).
// - della_magprune ranks magnitudes within each row (last dimension); a row of one element keeps p = density;
//   rescaling divides each kept element by its own keep probability (the DELLA paper).
// - magnitude / magnitude_outliers with rescale=true match the L1 norm of the delta before pruning (mergekit).
// - density*n < 1 prunes everything (no error); ties in magnitude are broken by element index.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fm {

// Uniform [0, 1) from a counter: deterministic, independent of evaluation order.
double CounterUniform(uint64_t seed, uint64_t stream, uint64_t index);
uint64_t HashString(const char* s, size_t n);

// Keeps the round(density*n) elements of largest magnitude (floor, as mergekit's int()).
void SparsifyMagnitude(float* delta, size_t n, double density, bool rescale);
// Removes the gamma*n largest and then the smallest elements until density*n remain.
void SparsifyMagnitudeOutliers(float* delta, size_t n, double density, double gamma, bool rescale);
// Keeps each element with probability density; kept elements scaled by 1/density if rescale.
// `index0` is the global element index of delta[0].
void SparsifyRandom(float* delta, size_t n, double density, bool rescale, uint64_t seed, uint64_t stream,
                    uint64_t index0);
// DELLA MagPrune: keep probability (density-eps) + 2*eps*rank/(m-1) by ascending magnitude rank within each row
// of `row_len` elements; kept elements divided by their probability if rescale.
void SparsifyDella(float* delta, size_t n, size_t row_len, double density, double epsilon, bool rescale,
                   uint64_t seed, uint64_t stream);

}  // namespace fm
