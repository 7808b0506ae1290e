// RunDemo: `finmerge demo` — the paper's method end to end on a small world it makes itself (demo_world.h),
// as stages of a RunFolder (run_folder.h), so a second run reuses finished stages and a killed run resumes:
//
//   world      generate the general corpus, instruction set, finance corpus and evaluation sets (seeded)
//   tokenizer  train a byte-level BPE on the world's text (demo_tokenizer.h); chat format ChatML
//   tokenize   token shards of the general and the finance corpus
//   base       a tiny Llama from random weights, pretrained on the general corpus
//   instruct   base + SFT on the (general-only) instruction set
//   cpt        base + continual pretraining on the finance corpus (with a little general replay)
//   merged     chat vector: cpt + (instruct - base)
//   analysis   task-vector analysis of instruct, cpt and merged against base
//   eval       the three evaluations (demo_eval.h) of base, instruct, cpt and merged
// then results.json and report.html in the run folder.
//
//   OUT/results.json  {"primary_metric": NAME, "models": {"base": {METRIC: value, ...}, "instruct": ...,
//                      "cpt": ..., "merged": ...}, "task_vector_cosine": cos(instruct - base, cpt - base),
//                      "stage_seconds": {STAGE: seconds}}
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"
#include "pipeline/demo_world.h"

namespace fm {

// One training phase of the demo.
struct DemoPhase {
  double epochs = 1;  // passes over the phase's training data (sets the number of steps)
  int batch_size = 16;
  float lr = 1e-3f, min_lr = 1e-4f;
  int warmup_steps = 10;
  float weight_decay = 0.0f;
};

// Everything that decides the demo's results (the stages' fingerprints are built from it).
struct DemoConfig {
  std::string size = "default";  // preset name
  DemoWorldOptions world;
  int vocab_size = 1024;
  int hidden = 128, layers = 4, heads = 4, intermediate = 384, seq_len = 128;
  DemoPhase pretrain, sft, cpt;
  double replay_fraction = 0.1;  // share of general windows mixed into CPT
};

// The presets: "default" (`finmerge demo`) and "tiny" (a seconds-long run of every real stage, for tests).
Status DemoConfigForSize(const std::string& size, uint64_t seed, DemoConfig* out);
nlohmann::json DemoConfigToJson(const DemoConfig& c);

struct DemoOptions {
  std::string out = "demo-run";
  uint64_t seed = 1;
  int threads = 0;               // 0 = all cores
  std::string size = "default";  // DemoConfigForSize
};

struct DemoSummary {
  nlohmann::json results;  // the content of results.json
  bool merged_beats_both = false;
  int stages_run = 0, stages_skipped = 0;
  double seconds = 0;
};

Status RunDemo(const DemoOptions& opts, DemoSummary* summary);

}  // namespace fm
