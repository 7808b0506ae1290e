// The sections of report.html (one file each: loss_section.cpp, task_vector_section.cpp,
// evaluation_section.cpp) and the few helpers they share. Internal to src/report; the public API is report.h.
#pragma once

#include <string>
#include <vector>

#include "report/report_data.h"

namespace fm::report {

// An input file named by the caller: not named, named but absent (the stage did not run), or read.
enum class Presence { kNotGiven, kMissing, kLoaded };

// <p class="notrun">WHAT: not run (no file at PATH).</p>, escaped.
std::string NotRun(const std::string& what, const std::string& missing_path = "");
// 1234567 -> "1,234,567" (rounded to an integer).
std::string WithCommas(double v);
// Words for a cosine similarity of two task vectors; |c| < 0.1 is "near-zero cosine similarity: the two
// vectors are nearly independent" (the paper's argument for adding them).
std::string CosineVerdict(double c);

struct CurveInput {
  std::string label, path;
  Presence presence = Presence::kNotGiven;
  LossCurve curve;  // when kLoaded
};
std::string LossSection(const std::vector<CurveInput>& curves);

std::string TaskVectorSection(Presence p, const std::string& path, const AnalysisData& a);

// Rows (models) holding the best finite value of metric column `metric` (ties: all of them); empty if none.
std::vector<size_t> BestRows(const ResultsData& r, size_t metric);
std::string EvaluationSection(Presence p, const std::string& path, const ResultsData& r);

// The page's style sheet (inline in <style>).
extern const char* const kPageCss;

}  // namespace fm::report
