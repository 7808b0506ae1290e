// Recipe: the whole method as one YAML file, run by `finmerge build RECIPE.yaml` (pipeline/build.h).
//
//   name: nekomata-fin                 # run name (default: the recipe file's stem)
//   run_dir: runs/nekomata-fin         # default: runs/<name> beside the recipe
//   base: models/nekomata-14b          # the public base model (folder or .gguf)
//   instruct: models/nekomata-14b-instruction
//   cpt_model: models/my-cpt           # optional: an already-trained CPT model; skips tokenize and cpt
//   tokenizer: models/nekomata-14b     # default: base
//   corpus: {paths: [data/fin/], blank_line_docs: false, val_fraction: 0.01}
//   replay: {paths: [data/general/], fraction: 0.1}      # optional general corpus mixed into CPT
//   cpt: {steps: 1000, seq_len: 2048, batch_size: 4, grad_accum: 8, lr: 1.0e-5, min_lr: 1.0e-6, warmup: 50,
//         decay: cosine, weight_decay: 0.1, clip: 1.0, seed: 1234, save_every: 100, eval_every: 100,
//         precision: auto, threads: 0}
//   merge: {merge_method: task_arithmetic, instruct_weight: 1.0, dtype: bfloat16}   # the paper's chat vector
//   analyze: true
//   eval: {models: [base, instruct, cpt, merged], tasks: [...], prompt_style: alpaca, ppl: [...],
//          ifeval: ..., ifeval_limit: 0, chat_format: alpaca-ja, max_new_tokens: 256, limit: 0}
//   report: true
//
// Every field is documented in examples/nekomata-fin.yaml. Relative paths are relative to the recipe's folder.
// Unknown keys are errors (a typo must not silently fall back to a default).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "train/trainer.h"

namespace fm {

struct RecipeCorpus {
  std::vector<std::string> paths;  // files or folders (folders: every .txt/.jsonl file inside, sorted)
  bool blank_line_docs = false;    // text files hold several documents separated by blank lines
  double val_fraction = 0.01;
  double fraction = 0.0;  // replay only: share of replay windows in CPT batches
};

struct RecipeEval {
  std::vector<std::string> models = {"base", "instruct", "cpt", "merged"};
  std::vector<std::string> tasks;  // multiple-choice files (fin-harness JSON or lm-eval JSONL)
  std::string prompt_style = "default";
  std::vector<std::string> ppl;    // text files or token shards
  int ppl_stride = 0;
  std::string ifeval;              // IFEval JSONL ("" = none)
  int ifeval_limit = 0;            // 0 = all prompts
  std::string chat_format;         // "" = each model's chat template
  int max_new_tokens = 256;
  int limit = 0;                   // multiple-choice questions per task (0 = all)
};

struct Recipe {
  std::string file;  // the recipe's path
  std::string name;
  std::string run_dir;
  std::string base, instruct, cpt_model, tokenizer;
  RecipeCorpus corpus;
  RecipeCorpus replay;
  TrainOptions cpt;  // model/data/out filled in by the build
  std::string cpt_decay = "cosine";
  std::string merge_yaml;  // the merge section as mergekit YAML with model placeholders (base/instruct/cpt)
  double instruct_weight = 1.0;
  bool analyze = true;
  bool eval_enabled = false;
  RecipeEval eval;
  bool report = true;
  nlohmann::ordered_json raw;  // the recipe as JSON (for fingerprints and the report's settings)
};

Status LoadRecipe(const std::string& path, Recipe* out);
Status ParseRecipe(const std::string& yaml_text, const std::string& file, Recipe* out);

}  // namespace fm
