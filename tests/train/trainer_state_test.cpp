#include "train/trainer_state.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "testing/tiny_checkpoint.h"

namespace fm {
namespace {

using testing::TempDir;

std::vector<ParamTensor> Tensors() {
  return {ParamTensor{.name = "a", .shape = {2, 3}, .offset = 0, .numel = 6},
          ParamTensor{.name = "b", .shape = {5}, .offset = 6, .numel = 5, .decay = false}};
}

struct Arrays {
  std::vector<float> p, m, v;
  explicit Arrays(size_t n, float base) : p(n), m(n), v(n) {
    for (size_t i = 0; i < n; i++) {
      p[i] = base + i;
      m[i] = -base * i;
      v[i] = base / (i + 1);
    }
  }
};

TEST(TrainerState, RoundTripsExactly) {
  TempDir d;
  TrainerState s;
  s.step = 17;
  s.adam_step = 17;
  s.data = {.slots = 1000, .main_taken = 900, .replay_taken = 100};
  s.args = {{"seed", 5}, {"lr", 1e-3}};
  Arrays a(11, 0.37f);  // odd n: the checksum's zero-extended tail is exercised
  ASSERT_TRUE(SaveTrainerState(d.path(), s, Tensors(), a.p.data(), a.m.data(), a.v.data(), 11).ok());

  TrainerState peek;
  ASSERT_TRUE(PeekTrainerState(d.path(), &peek).ok());
  EXPECT_EQ(peek.step, 17);
  EXPECT_EQ(peek.args["seed"], 5);

  TrainerState r;
  Arrays b(11, 0.0f);
  ASSERT_TRUE(LoadTrainerState(d.path(), Tensors(), &r, b.p.data(), b.m.data(), b.v.data(), 11).ok());
  EXPECT_EQ(r.step, 17);
  EXPECT_EQ(r.data.slots, 1000u);
  EXPECT_EQ(r.data.main_taken, 900u);
  EXPECT_EQ(r.data.replay_taken, 100u);
  EXPECT_EQ(r.args, s.args);
  EXPECT_EQ(b.p, a.p);
  EXPECT_EQ(b.m, a.m);
  EXPECT_EQ(b.v, a.v);
}

TEST(TrainerState, DetectsDamageAndMismatch) {
  TempDir d;
  TrainerState s;
  Arrays a(11, 1.5f), b(11, 0.0f);
  ASSERT_TRUE(SaveTrainerState(d.path(), s, Tensors(), a.p.data(), a.m.data(), a.v.data(), 11).ok());
  const std::string path = d / "state.bin";

  // A model with another parameter layout.
  std::vector<ParamTensor> other = Tensors();
  other[1].name = "c";
  TrainerState r;
  Status st = LoadTrainerState(d.path(), other, &r, b.p.data(), b.m.data(), b.v.data(), 11);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("entry 1"), std::string::npos) << st.message();
  st = LoadTrainerState(d.path(), Tensors(), &r, b.p.data(), b.m.data(), b.v.data(), 10);
  EXPECT_NE(st.message().find("holds 11 parameters"), std::string::npos) << st.message();

  // One flipped bit in the second moment.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-3, std::ios::end);
    char c;
    f.get(c);
    f.seekp(-3, std::ios::end);
    f.put(static_cast<char>(c ^ 0x10));
  }
  st = LoadTrainerState(d.path(), Tensors(), &r, b.p.data(), b.m.data(), b.v.data(), 11);
  EXPECT_EQ(st.code(), Status::Code::kCorruption);
  EXPECT_NE(st.message().find("checksum"), std::string::npos);

  // Truncated.
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 4);
  st = LoadTrainerState(d.path(), Tensors(), &r, b.p.data(), b.m.data(), b.v.data(), 11);
  EXPECT_EQ(st.code(), Status::Code::kCorruption);
  EXPECT_NE(st.message().find("truncated"), std::string::npos);

  // Not a state file at all / missing.
  std::ofstream(path) << "hello, this is not a trainer state file at all, just some text that is long enough";
  EXPECT_NE(PeekTrainerState(d.path(), &r).message().find("bad magic"), std::string::npos);
  EXPECT_EQ(PeekTrainerState(d / "nowhere", &r).code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace fm
