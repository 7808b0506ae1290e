#include "merge/merge_plan.h"

#include <algorithm>
#include <map>
#include <regex>
#include <set>

namespace fm {

bool IsVocabTensor(const std::string& name) {
  static const char* kPatterns[] = {"embed_tokens.", "wte.", "word_embeddings.", "lm_head.", "embed_out.",
                                    "tok_embeddings.", "token_embd.", "output.weight"};
  for (const char* p : kPatterns) {
    if (name.find(p) != std::string::npos) return true;
  }
  return false;
}

int LayerIndex(const std::string& name) {
  static const std::regex kLayer(R"((?:^|\.)(?:layers|h|blk|block|blocks)\.(\d+)\.)");
  std::smatch m;
  if (std::regex_search(name, m, kLayer)) return std::stoi(m[1]);
  return -1;
}

namespace {

bool IsTied(const ModelFolder& f) {
  if (f.has_config() && f.config().raw.contains("tie_word_embeddings") &&
      f.config().raw["tie_word_embeddings"].is_boolean()) {
    return f.config().tie_word_embeddings;
  }
  // No explicit setting: tied when there is an input embedding but no output head.
  bool has_embed = false, has_head = false;
  for (const std::string& n : f.tensor_names()) {
    if (IsVocabTensor(n)) (n.find("lm_head") != std::string::npos || n.find("embed_out") != std::string::npos ||
                           n.find("output.weight") != std::string::npos ? has_head : has_embed) = true;
  }
  return has_embed && !has_head;
}

bool IsHead(const std::string& n) {
  return n.find("lm_head.") != std::string::npos || n.find("embed_out.") != std::string::npos ||
         n == "output.weight";
}

}  // namespace

Status PlanMerge(const std::vector<const ModelFolder*>& models, const PlanOptions& opts, MergePlan* plan) {
  const size_t k = models.size();
  auto label = [&](size_t i) { return i < opts.labels.size() ? opts.labels[i] : models[i]->path(); };
  const ModelFolder& ref = *models[opts.reference];
  // Architecture.
  for (size_t i = 0; i < k; i++) {
    const ModelFolder& m = *models[i];
    if (!m.has_config() || !ref.has_config()) continue;
    const ModelConfig &a = ref.config(), &b = m.config();
    if (a.model_type != b.model_type || a.architecture != b.architecture) {
      return Status::InvalidArgument("cannot merge: " + label(opts.reference) + " is " + a.architecture + " (" +
                                     a.model_type + ") but " + label(i) + " is " + b.architecture + " (" + b.model_type +
                                     "); models must share one architecture");
    }
    if (a.num_layers != b.num_layers) {
      return Status::InvalidArgument("cannot merge: " + label(opts.reference) + " has " + std::to_string(a.num_layers) +
                                     " layers but " + label(i) + " has " + std::to_string(b.num_layers));
    }
    if (a.hidden_size != b.hidden_size) {
      return Status::InvalidArgument("cannot merge: hidden size " + std::to_string(a.hidden_size) + " of " +
                                     label(opts.reference) + " differs from " + std::to_string(b.hidden_size) + " of " + label(i));
    }
  }
  // Tied vs untied.
  const bool tied = IsTied(ref);
  for (size_t i = 0; i < k; i++) {
    if (IsTied(*models[i]) != tied) {
      return Status::InvalidArgument("cannot merge: " + label(opts.reference) + (tied ? " ties" : " does not tie") +
                                     " input and output embeddings but " + label(i) + (tied ? " does not" : " does") +
                                     " (tie_word_embeddings)");
    }
  }
  // Tensor names.
  std::set<std::string> ref_names(ref.tensor_names().begin(), ref.tensor_names().end());
  for (size_t i = 0; i < k; i++) {
    for (const std::string& n : models[i]->tensor_names()) {
      if (!ref_names.count(n) && !(tied && IsHead(n))) {
        return Status::InvalidArgument("cannot merge: tensor '" + n + "' is in " + label(i) + " but not in " +
                                       label(opts.reference) + " (different architecture variant?)");
      }
    }
  }
  MergePlan p;
  p.tied = tied;
  for (const std::string& name : ref.tensor_names()) {
    if (tied && IsHead(name)) {
      p.notes.push_back("'" + name + "' skipped: embeddings are tied (written once)");
      continue;
    }
    PlannedTensor t;
    t.name = name;
    const TensorView* rv = ref.Find(name);
    t.shape = rv->shape;
    t.merge = IsFloat(rv->dtype) && rv->dtype != DType::kF64 ? true : IsFloat(rv->dtype);
    t.out_dtype = t.merge && opts.out_dtype ? *opts.out_dtype : rv->dtype;
    const bool vocab = IsVocabTensor(name) && rv->shape.size() >= 1;
    int64_t min_rows = rv->shape.empty() ? 1 : rv->shape[0], max_rows = min_rows;
    for (size_t i = 0; i < k; i++) {
      const TensorView* v = models[i]->Find(name);
      if (!v) {
        return Status::InvalidArgument("cannot merge: tensor '" + name + "' is in " + label(opts.reference) +
                                       " but missing from " + label(i));
      }
      if (IsFloat(v->dtype) != IsFloat(rv->dtype)) {
        return Status::InvalidArgument("cannot merge: tensor '" + name + "' is " + DTypeName(rv->dtype) + " in " +
                                       label(opts.reference) + " but " + DTypeName(v->dtype) + " in " + label(i));
      }
      bool same_tail = v->shape.size() == rv->shape.size() &&
                       std::equal(v->shape.begin() + (v->shape.empty() ? 0 : 1), v->shape.end(),
                                  rv->shape.begin() + (rv->shape.empty() ? 0 : 1));
      if (v->shape != rv->shape && !(vocab && same_tail)) {
        return Status::InvalidArgument("cannot merge: tensor '" + name + "' has shape " + ShapeString(rv->shape) +
                                       " in " + label(opts.reference) + " but " + ShapeString(v->shape) + " in " + label(i));
      }
      if (!v->shape.empty()) {
        min_rows = std::min(min_rows, v->shape[0]);
        max_rows = std::max(max_rows, v->shape[0]);
      }
      t.inputs.push_back(v);
    }
    t.row_elems = 1;
    for (size_t d = 1; d < t.shape.size(); d++) t.row_elems *= t.shape[d];
    t.merged_rows = t.shape.empty() ? 1 : min_rows;
    if (!t.shape.empty()) t.shape[0] = max_rows;
    if (max_rows != min_rows) {
      // Rows beyond min_rows: from the first folder in priority order that has them.
      int64_t row = min_rows;
      std::vector<size_t> order = opts.row_priority;
      for (size_t i = 0; i < k; i++) {
        if (std::find(order.begin(), order.end(), i) == order.end()) order.push_back(i);
      }
      while (row < max_rows) {
        for (size_t i : order) {
          int64_t have = t.inputs[i]->shape[0];
          if (have > row) {
            t.extra_rows.emplace_back(have, i);
            p.notes.push_back("'" + name + "': rows " + std::to_string(row) + ".." + std::to_string(have - 1) +
                              " taken from " + label(i) + " (present in no other model to merge with)");
            row = have;
            break;
          }
        }
      }
      // Later ranges must not exceed what their source has: clamp each range end to the next source's rows.
    }
    if (vocab && IsVocabTensor(name)) p.out_vocab_rows = std::max(p.out_vocab_rows, max_rows);
    t.layer = LayerIndex(name);
    const int L = ref.has_config() ? ref.config().num_layers : 0;
    if (t.layer >= 0) {
      t.t = L > 1 ? static_cast<double>(t.layer) / (L - 1) : 0.0;
    } else {
      t.t = IsVocabTensor(name) && !IsHead(name) ? 0.0 : 1.0;
    }
    p.tensors.push_back(std::move(t));
  }
  *plan = std::move(p);
  return Status::Ok();
}

}  // namespace fm
