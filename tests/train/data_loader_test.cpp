#include "train/data_loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace fm {
namespace {

// Window i is T copies of (base + i) as inputs and targets, so a drawn window names itself.
class FakeWindows : public WindowSource {
 public:
  FakeWindows(uint64_t n, int T, uint32_t base) : n_(n), T_(T), base_(base) {}
  uint64_t num_windows() const override { return n_; }
  int seq_len() const override { return T_; }
  Status Read(uint64_t i, uint32_t* inputs, uint32_t* targets) const override {
    for (int t = 0; t < T_; t++) inputs[t] = targets[t] = base_ + static_cast<uint32_t>(i);
    return Status::Ok();
  }
  std::string Describe() const override { return "fake"; }

 private:
  uint64_t n_;
  int T_;
  uint32_t base_;
};

// Draws `batches` global batches of `g` windows and returns the window ids in order.
std::vector<uint32_t> Draw(DataLoader* loader, int batches, int g, int T) {
  std::vector<uint32_t> ids, in(static_cast<size_t>(g) * T), tg(in.size());
  for (int b = 0; b < batches; b++) {
    EXPECT_TRUE(loader->NextBatch(g, 0, g, in.data(), tg.data()).ok());
    for (int j = 0; j < g; j++) ids.push_back(in[static_cast<size_t>(j) * T]);
  }
  return ids;
}

TEST(DataLoader, EveryEpochIsAPermutationAndEpochsDiffer) {
  FakeWindows src(40, 3, 0);
  DataLoader loader(&src, nullptr, 0.0, 42);
  std::vector<uint32_t> ids = Draw(&loader, 20, 4, 3);  // 80 windows = 2 epochs
  std::vector<uint32_t> e0(ids.begin(), ids.begin() + 40), e1(ids.begin() + 40, ids.end());
  std::vector<uint32_t> s0 = e0, s1 = e1;
  std::sort(s0.begin(), s0.end());
  std::sort(s1.begin(), s1.end());
  for (uint32_t i = 0; i < 40; i++) {
    EXPECT_EQ(s0[i], i);
    EXPECT_EQ(s1[i], i);
  }
  EXPECT_NE(e0, e1);
  std::vector<uint32_t> identity(40);
  for (uint32_t i = 0; i < 40; i++) identity[i] = i;
  EXPECT_NE(e0, identity);  // shuffled
}

TEST(DataLoader, SameSeedSameOrderOtherSeedOtherOrder) {
  FakeWindows src(100, 2, 0);
  DataLoader a(&src, nullptr, 0.0, 1), b(&src, nullptr, 0.0, 1), c(&src, nullptr, 0.0, 2);
  std::vector<uint32_t> ia = Draw(&a, 10, 8, 2), ib = Draw(&b, 10, 8, 2), ic = Draw(&c, 10, 8, 2);
  EXPECT_EQ(ia, ib);
  EXPECT_NE(ia, ic);
}

TEST(DataLoader, RestoredPositionContinuesExactly) {
  FakeWindows main(37, 2, 0), replay(11, 2, 1000);
  DataLoader a(&main, &replay, 0.3, 9);
  Draw(&a, 13, 6, 2);  // crosses epochs of both sources
  const DataPosition saved = a.position();
  EXPECT_EQ(saved.slots, 78u);
  EXPECT_EQ(saved.main_taken + saved.replay_taken, 78u);
  std::vector<uint32_t> rest_a = Draw(&a, 9, 6, 2);
  DataLoader b(&main, &replay, 0.3, 9);
  b.set_position(saved);
  EXPECT_EQ(Draw(&b, 9, 6, 2), rest_a);
}

TEST(DataLoader, RanksReadDisjointSlicesOfTheSameGlobalBatch) {
  FakeWindows src(50, 2, 0);
  DataLoader whole(&src, nullptr, 0.0, 5), r0(&src, nullptr, 0.0, 5), r1(&src, nullptr, 0.0, 5);
  std::vector<uint32_t> in(8 * 2), tg(8 * 2), in0(4 * 2), in1(4 * 2);
  for (int step = 0; step < 10; step++) {
    ASSERT_TRUE(whole.NextBatch(8, 0, 8, in.data(), tg.data()).ok());
    ASSERT_TRUE(r0.NextBatch(8, 0, 4, in0.data(), tg.data()).ok());
    ASSERT_TRUE(r1.NextBatch(8, 4, 4, in1.data(), tg.data()).ok());
    for (int j = 0; j < 4; j++) {
      EXPECT_EQ(in0[j * 2], in[j * 2]);
      EXPECT_EQ(in1[j * 2], in[(4 + j) * 2]);
    }
  }
  EXPECT_EQ(r0.position().slots, whole.position().slots);
}

TEST(DataLoader, ReplayFractionIsHonoured) {
  FakeWindows main(500, 1, 0), replay(300, 1, 100000);
  for (double f : {0.0, 0.1, 0.25, 0.5}) {
    DataLoader loader(&main, &replay, f, 123);
    std::vector<uint32_t> ids = Draw(&loader, 500, 16, 1);  // 8000 windows
    size_t from_replay = 0;
    std::set<uint32_t> replay_ids;
    for (uint32_t id : ids) {
      if (id >= 100000) {
        from_replay++;
        replay_ids.insert(id);
      }
    }
    const double got = static_cast<double>(from_replay) / ids.size();
    // Binomial(8000, f): 4 standard deviations are at most 0.023.
    EXPECT_NEAR(got, f, 0.023) << "fraction " << f;
    EXPECT_EQ(loader.position().replay_taken, from_replay);
    if (f >= 0.1) {
      EXPECT_EQ(replay_ids.size(), 300u);  // the replay corpus is cycled through, not one window repeated
    }
  }
  // Deterministic by seed: the slots that replay are the same for the same seed, different for another.
  int same = 0, differ = 0;
  for (uint64_t g = 0; g < 1000; g++) {
    same += DataLoader::IsReplaySlot(1, g, 0.3) == DataLoader::IsReplaySlot(1, g, 0.3);
    differ += DataLoader::IsReplaySlot(1, g, 0.3) != DataLoader::IsReplaySlot(2, g, 0.3);
  }
  EXPECT_EQ(same, 1000);
  EXPECT_GT(differ, 200);
}

TEST(ReplaySpec, ParsesPathAndFraction) {
  ReplaySpec r;
  ASSERT_TRUE(ParseReplaySpec("general-tok:0.1", &r).ok());
  EXPECT_EQ(r.path, "general-tok");
  EXPECT_DOUBLE_EQ(r.fraction, 0.1);
  ASSERT_TRUE(ParseReplaySpec("/data/c:d/gen:0.25", &r).ok());  // the last ':' splits
  EXPECT_EQ(r.path, "/data/c:d/gen");
  EXPECT_DOUBLE_EQ(r.fraction, 0.25);
  for (const char* bad :
       {"general-tok", "general-tok:", ":0.1", "gen:1.0", "gen:-0.1", "gen:abc", "gen:0.1x"}) {
    Status s = ParseReplaySpec(bad, &r);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("--replay"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace fm
