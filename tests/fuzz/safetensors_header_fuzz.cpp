// Fuzz target for the safetensors header parser.
//
// Built two ways: with clang's libFuzzer (-fsanitize=fuzzer -DFINMERGE_LIBFUZZER) LLVMFuzzerTestOneInput is the
// entry point; otherwise (GCC, CI) a small driver mutates a corpus of valid and near-valid headers for
// --seconds S (default 10) under ASan/UBSan and fails on any crash or on an accepted header that violates the
// parser's guarantees (offsets inside the data, no overlaps, sizes consistent).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "io/safetensors_reader.h"

namespace {

// Checks the invariants of an accepted header; aborts on violation.
void CheckAccepted(const std::vector<fm::TensorView>& tensors, const std::vector<uint64_t>& offsets, uint64_t data_size) {
  uint64_t prev_end = 0;
  for (size_t i = 0; i < tensors.size(); i++) {
    const fm::TensorView& t = tensors[i];
    uint64_t want = fm::DTypeSize(t.dtype);
    for (int64_t d : t.shape) want *= static_cast<uint64_t>(d);
    if (want != t.nbytes || offsets[i] < prev_end || offsets[i] + t.nbytes > data_size) {
      std::fprintf(stderr, "fuzz: accepted an inconsistent header (tensor '%s')\n", t.name.c_str());
      std::abort();
    }
    prev_end = offsets[i] + t.nbytes;
  }
}

void RunOne(const uint8_t* data, size_t size) {
  if (size < 8) return;
  uint64_t data_size;
  std::memcpy(&data_size, data, 8);
  data_size %= 1u << 20;
  std::vector<fm::TensorView> tensors;
  std::vector<uint64_t> offsets;
  std::map<std::string, std::string> meta;
  fm::Status s = fm::ParseSafetensorsHeader("fuzz.safetensors", reinterpret_cast<const char*>(data + 8), size - 8,
                                            data_size, &tensors, &offsets, &meta);
  if (s.ok()) CheckAccepted(tensors, offsets, data_size);
  else if (s.message().empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  RunOne(data, size);
  return 0;
}

#ifndef FINMERGE_LIBFUZZER
int main(int argc, char** argv) {
  double seconds = 10;
  for (int i = 1; i + 1 < argc; i++) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
  }
  const std::vector<std::string> seeds = {
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]}})",
      R"({"w":{"dtype":"F16","shape":[],"data_offsets":[0,2]}})",
      R"({"e":{"dtype":"I64","shape":[0,5],"data_offsets":[0,0]},"x":{"dtype":"U8","shape":[7],"data_offsets":[0,7]}})",
      R"({"a":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]}})",
      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})",
      R"([1,2,3])",
  };
  const std::string alphabet = "{}[]\":,0123456789-eE.abcdefFIUB_ \\u";
  std::mt19937_64 rng(12345);
  auto start = std::chrono::steady_clock::now();
  uint64_t runs = 0;
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < seconds) {
    std::string h = seeds[rng() % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits && !h.empty(); e++) {
      size_t pos = rng() % h.size();
      switch (rng() % 5) {
        case 0: h[pos] = alphabet[rng() % alphabet.size()]; break;
        case 1: h.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
        case 2: h.erase(pos, 1 + rng() % 4); break;
        case 3: h.insert(pos, std::to_string(static_cast<int64_t>(rng()))); break;
        case 4: h[pos] = static_cast<char>(rng() & 0xff); break;
      }
    }
    std::vector<uint8_t> buf(8 + h.size());
    uint64_t data_size = rng() % 64;
    if (rng() % 4 == 0) data_size = 22;
    std::memcpy(buf.data(), &data_size, 8);
    std::memcpy(buf.data() + 8, h.data(), h.size());
    RunOne(buf.data(), buf.size());
    runs++;
  }
  std::printf("safetensors_header_fuzz: %llu inputs in %.0f s, no crash, no inconsistent header accepted\n",
              static_cast<unsigned long long>(runs), seconds);
  return 0;
}
#endif
