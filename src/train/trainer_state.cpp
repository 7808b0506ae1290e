#include "train/trainer_state.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace fm {

namespace {

constexpr char kMagic[8] = {'F', 'M', 'T', 'R', 'N', 'S', 'T', 'A'};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 64;

struct FileCloser {
  void operator()(FILE* f) const {
    if (f != nullptr) std::fclose(f);
  }
};
using File = std::unique_ptr<FILE, FileCloser>;

// FNV-1a over 8-byte words (used for the JSON, padded to 64 bytes).
class Checksum {
 public:
  void Add(const void* data, size_t bytes) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < bytes; i++) {
      word_ |= static_cast<uint64_t>(p[i]) << (8 * fill_);
      if (++fill_ == 8) Flush();
    }
  }
  uint64_t Finish() {
    if (fill_ > 0) Flush();
    return h_;
  }

 private:
  void Flush() {
    h_ = (h_ ^ word_) * 0x100000001b3ull;
    word_ = 0;
    fill_ = 0;
  }
  uint64_t h_ = 0xcbf29ce484222325ull, word_ = 0;
  int fill_ = 0;
};

// Word-at-a-time FNV-1a over n floats (pairs of floats per word; an odd last float zero-extended).
void AddFloats(uint64_t* h, const float* data, size_t n) {
  size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    *h = (*h ^ w) * 0x100000001b3ull;
  }
  if (i < n) {
    uint32_t last;
    std::memcpy(&last, data + i, 4);
    *h = (*h ^ static_cast<uint64_t>(last)) * 0x100000001b3ull;
  }
}

size_t Padded(size_t n) {
  return (n + 63) / 64 * 64;
}

nlohmann::json TensorTable(const std::vector<ParamTensor>& tensors) {
  nlohmann::json t = nlohmann::json::array();
  for (const ParamTensor& p : tensors) t.push_back({p.name, p.offset, p.numel});
  return t;
}

Status ParseJson(const std::string& path, const std::string& text, TrainerState* state,
                 nlohmann::json* tensors) {
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    state->step = j.at("step").get<int64_t>();
    state->adam_step = j.at("adam_step").get<int64_t>();
    const nlohmann::json& d = j.at("data");
    state->data.slots = d.at("slots").get<uint64_t>();
    state->data.main_taken = d.at("main_taken").get<uint64_t>();
    state->data.replay_taken = d.at("replay_taken").get<uint64_t>();
    state->args = j.at("args");
    if (tensors != nullptr) *tensors = j.at("tensors");
  } catch (const std::exception& e) {
    return Status::Corruption(path + ": bad trainer state document: " + e.what());
  }
  return Status::Ok();
}

// Opens state.bin, checks the header and returns the JSON text, n and the stored checksum.
Status ReadHeader(const std::string& path, File* f, std::string* json, uint64_t* n, uint64_t* checksum) {
  f->reset(std::fopen(path.c_str(), "rb"));
  if (!*f) {
    return Status::NotFound(path + ": cannot open trainer state (" + std::strerror(errno) +
                            "); --resume needs the output folder of an earlier finmerge cpt/sft run");
  }
  uint8_t header[kHeaderBytes];
  if (std::fread(header, 1, kHeaderBytes, f->get()) != kHeaderBytes || std::memcmp(header, kMagic, 8) != 0) {
    return Status::Corruption(path + ": not a finmerge trainer state (bad magic)");
  }
  uint32_t version;
  uint64_t json_bytes;
  std::memcpy(&version, header + 8, 4);
  std::memcpy(&json_bytes, header + 16, 8);
  std::memcpy(n, header + 24, 8);
  std::memcpy(checksum, header + 32, 8);
  if (version != kVersion) {
    return Status::Unsupported(path + ": trainer state version " + std::to_string(version) +
                               " is not supported (this finmerge reads version 1)");
  }
  std::fseek(f->get(), 0, SEEK_END);
  const uint64_t size = static_cast<uint64_t>(std::ftell(f->get()));
  std::fseek(f->get(), kHeaderBytes, SEEK_SET);
  if (json_bytes > size || *n > size || size != kHeaderBytes + Padded(json_bytes) + 3 * 4 * *n) {
    return Status::Corruption(path + ": size " + std::to_string(size) + " bytes does not match its header (" +
                              std::to_string(*n) + " parameters; truncated copy?)");
  }
  json->resize(Padded(json_bytes));
  if (std::fread(json->data(), 1, json->size(), f->get()) != json->size()) {
    return Status::IOError(path + ": read failed");
  }
  json->resize(json_bytes);
  return Status::Ok();
}

}  // namespace

Status SaveTrainerState(const std::string& dir, const TrainerState& state,
                        const std::vector<ParamTensor>& tensors, const float* params, const float* m,
                        const float* v, size_t n) {
  const std::string path = dir + "/" + kTrainerStateFile;
  nlohmann::json j;
  j["step"] = state.step;
  j["adam_step"] = state.adam_step;
  j["data"] = {{"slots", state.data.slots},
               {"main_taken", state.data.main_taken},
               {"replay_taken", state.data.replay_taken}};
  j["args"] = state.args;
  j["tensors"] = TensorTable(tensors);
  std::string text = j.dump();
  const uint64_t json_bytes = text.size();
  text.resize(Padded(text.size()), '\0');

  uint64_t h;
  {
    Checksum c;
    c.Add(text.data(), text.size());
    h = c.Finish();
  }
  AddFloats(&h, params, n);
  AddFloats(&h, m, n);
  AddFloats(&h, v, n);

  uint8_t header[kHeaderBytes] = {};
  std::memcpy(header, kMagic, 8);
  const uint64_t n64 = n;
  std::memcpy(header + 8, &kVersion, 4);
  std::memcpy(header + 16, &json_bytes, 8);
  std::memcpy(header + 24, &n64, 8);
  std::memcpy(header + 32, &h, 8);

  File f(std::fopen(path.c_str(), "wb"));
  if (!f) return Status::IOError(path + ": cannot create: " + std::strerror(errno));
  bool ok = std::fwrite(header, 1, kHeaderBytes, f.get()) == kHeaderBytes &&
            std::fwrite(text.data(), 1, text.size(), f.get()) == text.size() &&
            std::fwrite(params, 4, n, f.get()) == n && std::fwrite(m, 4, n, f.get()) == n &&
            std::fwrite(v, 4, n, f.get()) == n;
  ok = (std::fclose(f.release()) == 0) && ok;
  if (!ok) return Status::IOError(path + ": write failed (disk full?)");
  return Status::Ok();
}

Status PeekTrainerState(const std::string& dir, TrainerState* state) {
  const std::string path = dir + "/" + kTrainerStateFile;
  File f;
  std::string json;
  uint64_t n, checksum;
  FM_RETURN_IF_ERROR(ReadHeader(path, &f, &json, &n, &checksum));
  return ParseJson(path, json, state, nullptr);
}

Status LoadTrainerState(const std::string& dir, const std::vector<ParamTensor>& tensors, TrainerState* state,
                        float* params, float* m, float* v, size_t n) {
  const std::string path = dir + "/" + kTrainerStateFile;
  File f;
  std::string json;
  uint64_t stored_n, stored_checksum;
  FM_RETURN_IF_ERROR(ReadHeader(path, &f, &json, &stored_n, &stored_checksum));
  nlohmann::json table;
  FM_RETURN_IF_ERROR(ParseJson(path, json, state, &table));
  if (stored_n != n) {
    return Status::InvalidArgument(path + ": holds " + std::to_string(stored_n) +
                                   " parameters but the model has " + std::to_string(n) +
                                   " (resuming with a different model?)");
  }
  const nlohmann::json expected = TensorTable(tensors);
  if (table != expected) {
    for (size_t i = 0; i < std::max(table.size(), expected.size()); i++) {
      if (i >= table.size() || i >= expected.size() || table[i] != expected[i]) {
        return Status::InvalidArgument(path + ": parameter table differs from the model's at entry " +
                                       std::to_string(i) + " (" +
                                       (i < table.size() ? table[i].dump() : "none") + " vs " +
                                       (i < expected.size() ? expected[i].dump() : "none") + ")");
      }
    }
  }
  if (std::fread(params, 4, n, f.get()) != n || std::fread(m, 4, n, f.get()) != n ||
      std::fread(v, 4, n, f.get()) != n) {
    return Status::IOError(path + ": read failed");
  }
  std::string padded = json;
  padded.resize(Padded(json.size()), '\0');
  uint64_t h;
  {
    Checksum c;
    c.Add(padded.data(), padded.size());
    h = c.Finish();
  }
  AddFloats(&h, params, n);
  AddFloats(&h, m, n);
  AddFloats(&h, v, n);
  if (h != stored_checksum) {
    return Status::Corruption(path +
                              ": checksum mismatch (the file is damaged; resume from another checkpoint)");
  }
  return Status::Ok();
}

}  // namespace fm
