// Atomic publication of an output file or folder: everything is written under a temporary name beside the
// destination ("OUT.tmp-<pid>-<n>") and renamed into place by Commit(). If the object is destroyed without
// Commit() (an error, an exception, a signal unwinding the stack), the temporary is removed, so a failed run
// never leaves a half-written model where a finished one is expected.
#pragma once

#include <string>

#include "base/status.h"

namespace fm {

class OutputPath {
 public:
  enum class Kind { kFile, kDirectory };
  // Does not touch the file system; call Begin().
  OutputPath(std::string final_path, Kind kind);
  ~OutputPath();
  OutputPath(const OutputPath&) = delete;
  OutputPath& operator=(const OutputPath&) = delete;

  // Creates the temporary (an empty folder for kDirectory; nothing for kFile). Fails if the parent folder does
  // not exist. An existing destination is replaced only on Commit().
  Status Begin();
  // The temporary path to write to.
  const std::string& temp_path() const { return temp_; }
  const std::string& final_path() const { return final_; }
  // Renames the temporary to the final path (replacing an existing destination).
  Status Commit();

 private:
  std::string final_, temp_;
  Kind kind_;
  bool begun_ = false, committed_ = false;
};

// Removes a file or a folder tree; ignores a missing path.
void RemoveAll(const std::string& path);

}  // namespace fm
