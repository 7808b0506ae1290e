// japanese-lm-fin-harness (pfnet-research), request for request as the harness builds it on lm-evaluation-harness
// 0.4.9.1: its five tasks read from the files as distributed, and every prompt version its task YAMLs and
// utils.py define, turned into lm-eval multiple-choice requests (context = description + doc_to_text,
// continuation = target_delimiter + choice). Scoring and metrics: eval/multiple_choice.h.
//
// Thread-safety: plain functions over immutable data.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "eval/multiple_choice.h"

namespace fm {

// One harness document after its dataset script's processing (jlm_fin_eval/datasets/*/*.py).
struct FinDoc {
  int id = 0;         // the dataset script's running id (the harness's doc_id)
  std::string where;  // "FILE: item N", "FILE: row N", "FILE: sentence S opinion O", for messages
  // cma_basics, security_sales_1, fp2, cpa_audit
  std::string question, context;
  std::vector<int> choice_ids;
  std::vector<std::string> choice_texts;
  int answer = 0;  // a choice id
  // chabsa
  std::string sentence, target, polarity;
};

struct FinTaskData {
  std::string task;  // chabsa, cma_basics, cpa_audit, fp2 or security_sales_1
  std::string path;  // as given
  std::vector<FinDoc> docs;
};

// The five task names, in the order the harness's result files list them (alphabetical).
const std::vector<std::string>& FinHarnessTaskNames();
// Every prompt version of the harness: default, 0.1, 0.1.2, 0.2, 0.2.1, 0.3, 0.4, 0.5, 0.6.
const std::vector<std::string>& FinHarnessVersions();
// Whether `task` defines `version` (chabsa has no 0.1.2 and no 0.2.1).
bool FinHarnessHasVersion(const std::string& task, const std::string& version);

// Reads one task from `path`, its format recognised from the path: a folder of chABSA JSON files (chabsa), a
// .xlsx file (cpa_audit, CPA_AUDIT.xlsx) or a data.json-style file (the task from its "data-name", else from
// the file or folder name). Errors name the file and the item, row or opinion.
Status LoadFinHarnessTask(const std::string& path, FinTaskData* out);

// The five task paths under `dir`: the harness's own layout (DIR/jlm_fin_eval/datasets/..., or DIR being
// that datasets folder) or the flat layout of shared/data/fin-harness (chabsa/, CPA_AUDIT.xlsx, fp2.json,
// cma_basics.json, security_sales_1.json). Fails naming every task it could not find.
Status FindFinHarnessTasks(const std::string& dir, std::vector<std::string>* paths);

// The requests of prompt `version` for every document of `data`: items carry the context and continuations
// exactly as lm-eval passes them to the model (before the trailing-whitespace move), the choice strings
// (acc_norm's lengths) and gold as lm-eval computes it (-100 when the target is not among the choices,
// e.g. chabsa's neutral opinions). out->name is the task, out->version the version; out->f1 is set for
// chabsa (f1/f1_norm), out->map for the tasks that report map metrics.
Status BuildFinHarnessTask(const FinTaskData& data, const std::string& version, McTask* out);

}  // namespace fm
