#include "train/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

namespace fm {
namespace {

TEST(LrSchedule, WarmupRisesLinearlyFromZero) {
  LrSchedule s{
      .max_lr = 1e-3f, .min_lr = 1e-4f, .warmup_steps = 4, .total_steps = 20, .decay = LrDecay::kCosine};
  EXPECT_FLOAT_EQ(s.At(0), 0.25e-3f);
  EXPECT_FLOAT_EQ(s.At(1), 0.50e-3f);
  EXPECT_FLOAT_EQ(s.At(2), 0.75e-3f);
  EXPECT_FLOAT_EQ(s.At(3), 1.00e-3f);
}

TEST(LrSchedule, CosineDecayHitsFloorAtLastStep) {
  // warmup 4, total 20: decay over steps 4..19, p = (step - 4) / 15.
  LrSchedule s{
      .max_lr = 1e-3f, .min_lr = 1e-4f, .warmup_steps = 4, .total_steps = 20, .decay = LrDecay::kCosine};
  EXPECT_FLOAT_EQ(s.At(4), 1e-3f);
  for (int step = 4; step < 20; step++) {
    const double p = (step - 4) / 15.0;
    const double want = 1e-4 + (1e-3 - 1e-4) * 0.5 * (1 + std::cos(M_PI * p));
    EXPECT_NEAR(s.At(step), want, 1e-9) << step;
  }
  EXPECT_FLOAT_EQ(s.At(19), 1e-4f);
  // Midpoint of the decay: halfway between peak and floor.
  LrSchedule odd{
      .max_lr = 2.0f, .min_lr = 0.0f, .warmup_steps = 0, .total_steps = 11, .decay = LrDecay::kCosine};
  EXPECT_NEAR(odd.At(5), 1.0f, 1e-6);
}

TEST(LrSchedule, LinearDecay) {
  LrSchedule s{
      .max_lr = 1.0f, .min_lr = 0.2f, .warmup_steps = 2, .total_steps = 12, .decay = LrDecay::kLinear};
  EXPECT_FLOAT_EQ(s.At(0), 0.5f);
  EXPECT_FLOAT_EQ(s.At(1), 1.0f);
  EXPECT_FLOAT_EQ(s.At(2), 1.0f);
  EXPECT_NEAR(s.At(7), 1.0f - 0.8f * 5.0f / 9.0f, 1e-6);
  EXPECT_FLOAT_EQ(s.At(11), 0.2f);
}

TEST(LrSchedule, NoRoomToDecayStaysAtPeak) {
  LrSchedule s{
      .max_lr = 1.0f, .min_lr = 0.1f, .warmup_steps = 3, .total_steps = 4, .decay = LrDecay::kCosine};
  EXPECT_FLOAT_EQ(s.At(2), 1.0f);
  EXPECT_FLOAT_EQ(s.At(3), 1.0f);
  LrSchedule one{
      .max_lr = 1.0f, .min_lr = 0.1f, .warmup_steps = 0, .total_steps = 1, .decay = LrDecay::kLinear};
  EXPECT_FLOAT_EQ(one.At(0), 1.0f);
}

TEST(LrSchedule, ValidateAndParse) {
  LrSchedule s{.max_lr = 1e-3f, .min_lr = 1e-2f, .warmup_steps = 0, .total_steps = 10};
  EXPECT_FALSE(s.Validate().ok());  // floor above peak
  s.min_lr = 0;
  s.warmup_steps = 11;
  EXPECT_FALSE(s.Validate().ok());
  s.warmup_steps = 10;
  EXPECT_TRUE(s.Validate().ok());
  LrDecay d;
  EXPECT_TRUE(ParseLrDecay("linear", &d).ok());
  EXPECT_EQ(d, LrDecay::kLinear);
  Status bad = ParseLrDecay("step", &d);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("cosine or linear"), std::string::npos);
}

}  // namespace
}  // namespace fm
