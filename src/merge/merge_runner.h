// RunMerge: executes a validated MergeConfig into a new Hugging Face model folder.
//
// Streaming: tensors are processed one at a time, in the reference model's order, straight from the mapped
// inputs to the output shards. Elementwise methods (task_arithmetic / the chat vector, linear, dare_*) work in
// chunks of 64K elements on all cores, so memory stays flat whatever the model size; the other methods hold one
// tensor of each model in f32 at a time. Input pages are released after each tensor.
//
// The output folder is published atomically; any error (including NaN/Inf in an output tensor) leaves nothing.
// Files: the weights (sharded at max_shard_bytes), config.json (from the config source, with vocab_size and
// torch_dtype updated), tokenizer files + generation_config.json (from the tokenizer source), remote-code *.py
// files (from the config source), finmerge_config.yaml (the exact recipe) and README.md (a short model card).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "merge/merge_config.h"

namespace fm {

struct MergeOptions {
  uint64_t max_shard_bytes = 5000000000ull;
  bool allow_nonfinite = false;     // report NaN/Inf as warnings instead of failing
  std::string config_source;        // folder whose config.json is used; default: base (else first model)
  std::string recipe_yaml;          // written as finmerge_config.yaml; default: MergeConfigToYaml(cfg)
  std::string card_summary;         // one paragraph for README.md
  bool quiet = false;
  // Input folder -> the name the user gave it (a GGUF file arrives as a temporary folder): README.md, the
  // notes and error messages show the name, never the temporary path.
  std::map<std::string, std::string> input_names;
};

struct MergeSummary {
  size_t tensors = 0;
  uint64_t parameters = 0;
  uint64_t bytes_written = 0;
  double seconds = 0;
  std::vector<std::string> notes;   // vocabulary-row decisions etc.
};

Status RunMerge(const MergeConfig& cfg, const std::string& out_dir, const MergeOptions& opts, MergeSummary* summary);

// `text` with every input folder of `input_names` replaced by its name.
std::string NameInputs(std::string text, const std::map<std::string, std::string>& input_names);

// Jinja chat templates for the named formats mergekit's `chat_template` accepts ("chatml", "llama3",
// "alpaca", "alpaca-ja"); empty if unknown.
std::string NamedChatTemplate(const std::string& name);

}  // namespace fm
