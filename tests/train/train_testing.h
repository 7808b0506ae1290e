// Helpers for the training tests: token shards written in the documented format, and corpora.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/model.h"
#include "testing/tiny_checkpoint.h"

namespace fm::testing {

// Writes one token shard: 256-byte header ("FMTOKSHD", u32 version, u32 vocab, u64 count, zeros) + u32
// tokens.
inline void WriteShard(const std::string& path, uint32_t vocab, const std::vector<uint32_t>& tokens,
                       uint32_t version = 1) {
  uint8_t header[256] = {};
  std::memcpy(header, "FMTOKSHD", 8);
  const uint64_t count = tokens.size();
  std::memcpy(header + 8, &version, 4);
  std::memcpy(header + 12, &vocab, 4);
  std::memcpy(header + 16, &count, 8);
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(header), 256);
  f.write(reinterpret_cast<const char*>(tokens.data()), static_cast<std::streamsize>(tokens.size() * 4));
}

// A repetitive corpus over ids [first, first + period): documents "first, first+1, ..., first+period-1, eos",
// `docs` of them. Easy to learn, so loss must fall quickly.
inline std::vector<uint32_t> RepetitiveCorpus(uint32_t first, uint32_t period, uint32_t eos, int docs) {
  std::vector<uint32_t> t;
  for (int d = 0; d < docs; d++) {
    for (uint32_t i = 0; i < period; i++) t.push_back(first + (i + static_cast<uint32_t>(d)) % period);
    t.push_back(eos);
  }
  return t;
}

// The tiny architecture the training tests use: V 64, C 32, FF 64, 2 layers, 4 heads, 2 kv heads.
inline TinyModelShape TrainTestShape() {
  TinyModelShape s;
  s.vocab = 64;
  s.hidden = 32;
  s.ff = 64;
  s.layers = 2;
  s.heads = 4;
  s.kv_heads = 2;
  return s;
}

// A random model (Model::Random) saved as a Hugging Face folder in `dtype`, with a tokenizer_config.json and
// a generation_config.json that the trainer must copy into its output.
inline void WriteRandomModel(const std::string& dir, DType dtype, uint64_t seed = 1,
                             const TinyModelShape& shape = TrainTestShape()) {
  std::filesystem::create_directories(dir);
  ArchConfig cfg;
  Status s = ParseArchConfig(TinyLlamaConfig(shape), &cfg);
  std::unique_ptr<Model> model;
  if (s.ok()) s = Model::Random(cfg, seed, &model);
  if (s.ok()) s = model->SaveWeights(dir, &dtype);
  if (!s.ok()) throw std::runtime_error(s.message());
  WriteJsonFile(dir + "/tokenizer_config.json", {{"eos_token", "</s>"}, {"chat_template", "{{ 'tiny' }}"}});
  WriteJsonFile(dir + "/generation_config.json", {{"eos_token_id", 63}});
}

// A token shard folder: `train_shards` train shards of the repetitive corpus over ids 1..20 (EOS 63), one val
// shard of the same text.
inline void WriteRepetitiveShards(const std::string& dir, int train_shards = 2, int docs_per_shard = 200) {
  std::filesystem::create_directories(dir);
  for (int i = 0; i < train_shards; i++) {
    char name[32];
    std::snprintf(name, sizeof(name), "/train_%05d.bin", i);
    WriteShard(dir + name, 64, RepetitiveCorpus(1, 20, 63, docs_per_shard));
  }
  WriteShard(dir + "/val_00000.bin", 64, RepetitiveCorpus(1, 20, 63, 40));
  std::ofstream(dir + "/manifest.json") << "{}";
}

// A "general" replay corpus over other ids (30..45).
inline void WriteReplayShards(const std::string& dir) {
  std::filesystem::create_directories(dir);
  WriteShard(dir + "/train_00000.bin", 64, RepetitiveCorpus(30, 16, 63, 150));
}

// A tiny random model that uses the real Qwen3 tokenizer from ../shared (vocabulary 151936 rows, as Qwen3's
// embedding), for instruction-tuning tests. Returns false when the shared tokenizer is missing.
inline bool WriteQwen3TokenizerModel(const std::string& dir) {
  const std::string src = std::string(FINMERGE_SOURCE_DIR) + "/../shared/tokenizers/qwen3";
  if (!std::filesystem::exists(src + "/tokenizer.json")) return false;
  TinyModelShape shape;
  shape.vocab = 151936;
  shape.hidden = 16;
  shape.ff = 32;
  shape.layers = 1;
  shape.heads = 2;
  shape.kv_heads = 1;
  WriteRandomModel(dir, DType::kBF16, 5, shape);
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
    std::filesystem::copy_file(src + "/" + f, dir + "/" + f,
                               std::filesystem::copy_options::overwrite_existing);
  }
  return true;
}

// OUT/metrics.jsonl as JSON objects.
inline std::vector<nlohmann::json> ReadMetrics(const std::string& out) {
  std::vector<nlohmann::json> rows;
  std::ifstream f(out + "/metrics.jsonl");
  for (std::string line; std::getline(f, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace fm::testing
