#include "pipeline/run_folder.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/output_path.h"
#include "base/splitmix.h"

namespace fm {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kSmallFileBytes = 1ull << 20;

// FNV-1a over bytes, finished with SplitMix64 so nearby inputs spread over all 64 bits.
struct Hasher {
  uint64_t h = 0xcbf29ce484222325ull;
  void Bytes(const void* data, size_t n) {
    const unsigned char* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; i++) {
      h ^= p[i];
      h *= 0x100000001b3ull;
    }
  }
  void Str(const std::string& s) {
    uint64_t n = s.size();
    Bytes(&n, sizeof(n));
    Bytes(s.data(), s.size());
  }
  void U64(uint64_t v) { Bytes(&v, sizeof(v)); }
  std::string Hex() const {
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(SplitMix64(h)));
    return buf;
  }
};

Status HashFile(const fs::path& p, const std::string& rel, Hasher* h) {
  std::error_code ec;
  const uint64_t size = fs::file_size(p, ec);
  if (ec) return Status::IOError(p.string() + ": cannot read its size: " + ec.message());
  h->Str(rel);
  h->U64(size);
  if (size <= kSmallFileBytes) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return Status::IOError(p.string() + ": cannot open for reading");
    std::string data(size, '\0');
    in.read(data.data(), static_cast<std::streamsize>(size));
    if (static_cast<uint64_t>(in.gcount()) != size) return Status::IOError(p.string() + ": short read");
    h->Bytes(data.data(), data.size());
  } else {
    const auto mtime = fs::last_write_time(p, ec);
    if (ec) return Status::IOError(p.string() + ": cannot read its modification time: " + ec.message());
    h->U64(static_cast<uint64_t>(mtime.time_since_epoch().count()));
  }
  return Status::Ok();
}

Status WriteJsonAtomic(const std::string& path, const nlohmann::json& j) {
  OutputPath out(path, OutputPath::Kind::kFile);
  Status s = out.Begin();
  if (!s.ok()) return s;
  {
    std::ofstream f(out.temp_path());
    f << j.dump(2) << "\n";
    if (!f) return Status::IOError(out.temp_path() + ": write failed (disk full?)");
  }
  return out.Commit();
}

std::string NowIso() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

Status FingerprintPath(const std::string& path, std::string* out) {
  std::error_code ec;
  const fs::path root(path);
  if (!fs::exists(root, ec)) return Status::NotFound(path + ": no such file or folder");
  Hasher h;
  if (fs::is_regular_file(root, ec)) {
    Status s = HashFile(root, root.filename().string(), &h);
    if (!s.ok()) return s;
  } else {
    std::vector<fs::path> files;
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->is_regular_file()) files.push_back(it->path());
    }
    if (ec) return Status::IOError(path + ": cannot list: " + ec.message());
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
      Status s = HashFile(f, fs::relative(f, root).generic_string(), &h);
      if (!s.ok()) return s;
    }
  }
  *out = h.Hex();
  return Status::Ok();
}

std::string FingerprintString(const std::string& s) {
  Hasher h;
  h.Str(s);
  return h.Hex();
}

std::string CombineFingerprints(const std::vector<std::string>& parts) {
  Hasher h;
  h.U64(parts.size());
  for (const std::string& p : parts) h.Str(p);
  return h.Hex();
}

Status RunFolder::Open(const std::string& root, RunFolder* out) {
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return Status::IOError(root + ": cannot create the run folder: " + ec.message());
  if (!fs::is_directory(root)) return Status::InvalidArgument(root + ": exists and is not a folder");
  out->root_ = root;
  out->results_.clear();
  return Status::Ok();
}

Status RunFolder::Run(const std::string& name, const std::string& fingerprint, const StageFn& fn,
                      StageResult* result) {
  const std::string final_dir = (fs::path(root_) / name).string();
  const std::string work_dir = final_dir + ".partial";
  const std::string record_path = (fs::path(final_dir) / ".stage.json").string();
  StageResult r;
  r.name = name;
  r.dir = final_dir;
  r.fingerprint = fingerprint;

  // Finished earlier with the same inputs?
  std::error_code ec;
  if (fs::exists(record_path, ec)) {
    std::ifstream in(record_path);
    nlohmann::json rec = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (rec.is_object() && rec.value("fingerprint", "") == fingerprint) {
      r.skipped = true;
      r.seconds = rec.value("seconds", 0.0);
      if (rec.contains("outputs")) r.outputs = rec["outputs"];
      results_.push_back(r);
      if (result) *result = r;
      return WriteRunJson();
    }
  }

  // A killed run's work folder is handed back only when it was started for the same inputs.
  const std::string work_record = (fs::path(work_dir) / ".stage-fingerprint").string();
  if (fs::exists(work_dir, ec)) {
    std::ifstream in(work_record);
    std::string old;
    std::getline(in, old);
    if (old == fingerprint) {
      r.resumed = true;
    } else {
      RemoveAll(work_dir);
    }
  }
  if (!r.resumed) {
    fs::create_directories(work_dir, ec);
    if (ec) return Status::IOError(work_dir + ": cannot create: " + ec.message());
    std::ofstream f(work_record);
    f << fingerprint << "\n";
    if (!f) return Status::IOError(work_record + ": write failed");
  }

  const auto t0 = std::chrono::steady_clock::now();
  nlohmann::json outputs = nlohmann::json::object();
  Status s = fn(work_dir, r.resumed, &outputs);
  if (!s.ok()) return s.WithPrefix("stage " + name);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.outputs = outputs;

  nlohmann::json rec = {{"fingerprint", fingerprint},
                        {"seconds", r.seconds},
                        {"finished_at", NowIso()},
                        {"outputs", outputs}};
  fs::remove(work_record, ec);
  s = WriteJsonAtomic((fs::path(work_dir) / ".stage.json").string(), rec);
  if (!s.ok()) return s;
  // Replace an older output: move it aside first so a crash between the renames loses nothing finished.
  if (fs::exists(final_dir, ec)) {
    const std::string old = final_dir + ".old";
    RemoveAll(old);
    fs::rename(final_dir, old, ec);
    if (ec) return Status::IOError(final_dir + ": cannot move the previous output aside: " + ec.message());
    fs::rename(work_dir, final_dir, ec);
    if (ec) return Status::IOError(work_dir + ": cannot rename into place: " + ec.message());
    RemoveAll(old);
  } else {
    fs::rename(work_dir, final_dir, ec);
    if (ec) return Status::IOError(work_dir + ": cannot rename into place: " + ec.message());
  }
  results_.push_back(r);
  if (result) *result = r;
  return WriteRunJson();
}

Status RunFolder::WriteRunJson() const {
  nlohmann::json stages = nlohmann::json::array();
  for (const StageResult& r : results_) {
    stages.push_back({{"name", r.name},
                      {"fingerprint", r.fingerprint},
                      {"seconds", r.seconds},
                      {"skipped", r.skipped},
                      {"resumed", r.resumed},
                      {"outputs", r.outputs}});
  }
  return WriteJsonAtomic((fs::path(root_) / "run.json").string(), {{"stages", stages}});
}

}  // namespace fm
