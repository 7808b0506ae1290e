// MergePlan: what a merge will write, decided before any tensor is read, after checking the models can be merged
// at all: same architecture and layer count, same tensor names, same shapes (except vocabulary rows), tied vs
// untied embeddings alike.
//
// Vocabulary row policy (real families differ here: an instruct model with added chat tokens, Qwen's embedding
// padded past its tokenizer): for embedding-like tensors (embed_tokens, wte, word_embeddings, lm_head, embed_out)
// only the first dimension may differ. The output has the largest row count; rows present in every model are
// merged; each row beyond that is copied from the first model that has it, in priority order: the tokenizer
// source, then the base, then the models in config order. Padding rows are merged/kept like any other row.
// Tied embeddings: the output has no lm_head.weight when its config ties embeddings (never written twice).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "io/model_folder.h"

namespace fm {

struct PlannedTensor {
  std::string name;
  std::vector<int64_t> shape;  // output shape
  DType out_dtype = DType::kF32;
  bool merge = true;                         // false: integer/bool tensor copied from the reference model
  std::vector<const TensorView*> inputs;     // per model folder (same order as PlanMerge's `models`)
  int64_t merged_rows = 0;                   // rows [0, merged_rows) are merged (whole tensor if not row-split)
  int64_t row_elems = 1;                     // elements per row (product of dims after the first)
  // Rows [merged_rows, shape[0]) come from: for each row range end, the folder index providing it.
  std::vector<std::pair<int64_t, size_t>> extra_rows;
  int layer = -1;                            // transformer block index, -1 outside the blocks
  double t = 0;                              // position for gradients: 0 before the blocks, i/(L-1), 1 after
};

struct MergePlan {
  std::vector<PlannedTensor> tensors;
  int64_t out_vocab_rows = 0;  // rows of the embedding in the output (0 if no embedding tensor)
  bool tied = false;
  std::vector<std::string> notes;  // human-readable decisions (vocabulary rows, skipped duplicates)
};

struct PlanOptions {
  size_t reference = 0;                // folder whose tensor order, non-float tensors and config shape the output
  std::vector<size_t> row_priority;    // folders in the order extra vocabulary rows are taken from
  std::optional<DType> out_dtype;      // default: the reference tensor's dtype
  std::vector<std::string> labels;     // per folder, for messages ("base ./b", "models[1] ./x")
};

// True for tensor names whose first dimension is the vocabulary.
bool IsVocabTensor(const std::string& name);
// The transformer block index in a tensor name ("model.layers.12.", "transformer.h.3.", "blk.7."), or -1.
int LayerIndex(const std::string& name);

Status PlanMerge(const std::vector<const ModelFolder*>& models, const PlanOptions& opts, MergePlan* plan);

}  // namespace fm
