#include "base/output_path.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <system_error>

namespace fm {

namespace fs = std::filesystem;

void RemoveAll(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

OutputPath::OutputPath(std::string final_path, Kind kind) : final_(std::move(final_path)), kind_(kind) {
  while (final_.size() > 1 && final_.back() == '/') final_.pop_back();
  static std::atomic<int> counter{0};
  temp_ = final_ + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

OutputPath::~OutputPath() {
  if (begun_ && !committed_) RemoveAll(temp_);
}

Status OutputPath::Begin() {
  fs::path parent = fs::path(final_).parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::is_directory(parent, ec)) {
    return Status::NotFound(final_ + ": parent folder " + parent.string() + " does not exist (create it first)");
  }
  RemoveAll(temp_);
  if (kind_ == Kind::kDirectory && !fs::create_directory(temp_, ec)) {
    return Status::IOError(temp_ + ": cannot create folder: " + ec.message());
  }
  begun_ = true;
  return Status::Ok();
}

Status OutputPath::Commit() {
  if (!begun_) return Status::Internal(final_ + ": Commit() before Begin()");
  std::error_code ec;
  if (kind_ == Kind::kDirectory && fs::exists(final_, ec)) {
    // rename(2) cannot replace a non-empty folder. Swap the two atomically (Linux RENAME_EXCHANGE), so a
    // process killed at any instant leaves either the old or the new folder at final_, never neither;
    // then delete the old one, now at temp_.
    if (renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, final_.c_str(), RENAME_EXCHANGE) == 0) {
      committed_ = true;
      RemoveAll(temp_);
      return Status::Ok();
    }
    // File systems without RENAME_EXCHANGE: move the old one aside, swap, then delete it.
    std::string old = temp_ + ".old";
    fs::rename(final_, old, ec);
    if (ec) return Status::IOError(final_ + ": cannot replace existing output: " + ec.message());
    fs::rename(temp_, final_, ec);
    if (ec) {
      fs::rename(old, final_);
      return Status::IOError(final_ + ": cannot publish output: " + ec.message());
    }
    RemoveAll(old);
  } else {
    fs::rename(temp_, final_, ec);
    if (ec) return Status::IOError(final_ + ": cannot publish output: " + ec.message());
  }
  committed_ = true;
  return Status::Ok();
}

}  // namespace fm
