// RunFolder: a pipeline run on disk, one subfolder per stage, each stage skipped when its inputs have not
// changed and resumed when it was killed.
//
//   RUN/
//     run.json                  stages in order with their fingerprints, seconds and status
//     <stage>/                  a finished stage's output (renamed into place when the stage succeeds)
//     <stage>/.stage.json       {"fingerprint", "seconds", "finished_at", "outputs": {...}}
//     <stage>.partial/          an unfinished stage's work folder, kept across kills so a stage that can
//                               resume (CPT with its trainer state) picks up where it stopped
//
// A stage's fingerprint is a hash of everything that decides its output: its settings (a string the caller
// builds, e.g. the recipe section as canonical JSON), the fingerprints of the stages it reads, and the
// fingerprints of external inputs (FingerprintPath: name, size, mtime of every file, plus the content of small
// files). Re-running with the same fingerprint skips the stage; a different fingerprint redoes it (and, since
// later stages include it, everything after it).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace fm {

// A stable 64-bit hex fingerprint of a file or folder: relative paths, sizes and modification times of every
// file, and the full content of files up to 1 MiB (configs, tokenizers, recipes). Missing path -> error.
Status FingerprintPath(const std::string& path, std::string* out);
// A stable 64-bit hex hash of a string.
std::string FingerprintString(const std::string& s);
// Combines parts in order.
std::string CombineFingerprints(const std::vector<std::string>& parts);

struct StageResult {
  std::string name;
  std::string dir;  // the stage's finished output folder
  std::string fingerprint;
  double seconds = 0.0;   // time of the run that produced it (the recorded time when skipped)
  bool skipped = false;   // reused from an earlier run
  bool resumed = false;   // the work folder of a killed run existed and was handed to the stage
  nlohmann::json outputs;  // what the stage function recorded (metrics, paths, ...)
};

class RunFolder {
 public:
  // Creates `root` if needed and reads run.json if present.
  static Status Open(const std::string& root, RunFolder* out);

  const std::string& root() const { return root_; }

  // The stage function: fills `work_dir` (exists; may hold a killed run's files when `resuming`) and may set
  // `outputs` (recorded in .stage.json and returned on later skips).
  using StageFn = std::function<Status(const std::string& work_dir, bool resuming, nlohmann::json* outputs)>;

  // Runs or skips stage `name`. On success the work folder is renamed to root/name (replacing an older output)
  // and .stage.json and run.json are written atomically. On failure the work folder stays for a resume and the
  // error is returned prefixed with the stage name. A work folder left by a run with another fingerprint is
  // discarded.
  Status Run(const std::string& name, const std::string& fingerprint, const StageFn& fn, StageResult* result);

  // Results of the stages run or skipped by this process, in order.
  const std::vector<StageResult>& results() const { return results_; }

 private:
  Status WriteRunJson() const;
  std::string root_;
  std::vector<StageResult> results_;
};

}  // namespace fm
