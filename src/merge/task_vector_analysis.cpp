#include "merge/task_vector_analysis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <omp.h>

#include "io/model_folder.h"
#include "merge/merge_plan.h"

namespace fm {

void TaskVectorStats::Init(size_t m) {
  sq_norm.assign(m, 0.0);
  dot.assign(m, std::vector<double>(m, 0.0));
  agree.assign(m, std::vector<double>(m, 0.0));
  both_nonzero.assign(m, std::vector<double>(m, 0.0));
  base_sq_norm = 0;
  elements = 0;
}

void TaskVectorStats::Add(const TaskVectorStats& o) {
  if (sq_norm.empty()) Init(o.sq_norm.size());
  for (size_t i = 0; i < sq_norm.size(); i++) {
    sq_norm[i] += o.sq_norm[i];
    for (size_t j = 0; j < sq_norm.size(); j++) {
      dot[i][j] += o.dot[i][j];
      agree[i][j] += o.agree[i][j];
      both_nonzero[i][j] += o.both_nonzero[i][j];
    }
  }
  base_sq_norm += o.base_sq_norm;
  elements += o.elements;
}

double TaskVectorStats::Cosine(size_t i, size_t j) const {
  double d = std::sqrt(sq_norm[i]) * std::sqrt(sq_norm[j]);
  return d > 0 ? dot[i][j] / d : 0.0;
}
double TaskVectorStats::SignAgreement(size_t i, size_t j) const {
  return both_nonzero[i][j] > 0 ? agree[i][j] / both_nonzero[i][j] : 0.0;
}
double TaskVectorStats::Norm(size_t i) const { return std::sqrt(sq_norm[i]); }
double TaskVectorStats::RelativeNorm(size_t i) const {
  return base_sq_norm > 0 ? std::sqrt(sq_norm[i] / base_sq_norm) : 0.0;
}

std::string ModuleType(const std::string& n) {
  auto has = [&](const char* s) { return n.find(s) != std::string::npos; };
  if (has("norm") || has(".ln_") || has("ln_f") || has("layernorm")) return "norm";
  if (IsVocabTensor(n)) return "embedding";
  if (has("q_proj") || has("attn_q.") || has(".wq.")) return "attn_q";
  if (has("k_proj") || has("attn_k.") || has(".wk.")) return "attn_k";
  if (has("v_proj") || has("attn_v.") || has(".wv.")) return "attn_v";
  if (has("c_attn") || has("qkv_proj") || has("query_key_value")) return "attn_qkv";
  if (has("o_proj") || has("attn.c_proj") || has("attn_output") || has(".wo.") || has("dense.")) return "attn_o";
  if (has("mlp") || has("gate_proj") || has("up_proj") || has("down_proj") || has("ffn")) return "mlp";
  return "other";
}

Status AnalyzeTaskVectors(const std::string& base, const std::vector<std::string>& models,
                          const std::vector<std::string>& labels, TaskVectorAnalysis* out) {
  if (models.empty()) return Status::InvalidArgument("analyze needs at least one model besides the base");
  std::vector<std::unique_ptr<ModelFolder>> folders(models.size() + 1);
  Status s = ModelFolder::Open(base, &folders[0]);
  if (!s.ok()) return s.WithPrefix("base");
  for (size_t i = 0; i < models.size(); i++) {
    s = ModelFolder::Open(models[i], &folders[i + 1]);
    if (!s.ok()) return s;
  }
  TaskVectorAnalysis a;
  a.base = base;
  a.models = models;
  for (size_t i = 0; i < models.size(); i++) {
    a.labels.push_back(i < labels.size() ? labels[i]
                                         : std::filesystem::path(models[i]).lexically_normal().filename().string());
    if (a.labels.back().empty()) a.labels.back() = models[i];
  }
  const size_t m = models.size();
  a.overall.Init(m);
  std::map<int, TaskVectorStats> layers;
  std::map<std::string, TaskVectorStats> modules;
  constexpr size_t kChunk = 1 << 16;
  for (const std::string& name : folders[0]->tensor_names()) {
    const TensorView* bv = folders[0]->Find(name);
    if (!IsFloat(bv->dtype)) continue;
    std::vector<const TensorView*> views;
    int64_t rows = bv->shape.empty() ? 1 : bv->shape[0];
    int64_t row_elems = bv->numel() / std::max<int64_t>(rows, 1);
    for (size_t i = 1; i <= m; i++) {
      const TensorView* v = folders[i]->Find(name);
      if (!v) return Status::InvalidArgument("tensor '" + name + "' is in the base but missing from " + models[i - 1]);
      bool ok = v->shape == bv->shape ||
                (IsVocabTensor(name) && v->shape.size() == bv->shape.size() && v->numel() / std::max<int64_t>(v->shape[0], 1) == row_elems);
      if (!ok) {
        return Status::InvalidArgument("tensor '" + name + "' has shape " + ShapeString(v->shape) + " in " +
                                       models[i - 1] + " but " + ShapeString(bv->shape) + " in the base");
      }
      if (!v->shape.empty()) rows = std::min(rows, v->shape[0]);
      views.push_back(v);
    }
    const size_t n = static_cast<size_t>(rows * row_elems);
    const size_t nchunks = (n + kChunk - 1) / kChunk;
    TaskVectorStats ts;
    ts.Init(m);
    std::vector<TaskVectorStats> partial(static_cast<size_t>(omp_get_max_threads()));
#pragma omp parallel
    {
      TaskVectorStats& p = partial[static_cast<size_t>(omp_get_thread_num())];
      p.Init(m);
      std::vector<float> b(kChunk), d(m * kChunk);
      std::vector<float> tmp(kChunk);
#pragma omp for schedule(dynamic, 2)
      for (size_t c = 0; c < nchunks; c++) {
        const size_t off = c * kChunk, len = std::min(kChunk, n - off);
        ToF32(static_cast<const uint8_t*>(bv->data) + off * DTypeSize(bv->dtype), bv->dtype, b.data(), len);
        for (size_t i = 0; i < m; i++) {
          float* di = d.data() + i * kChunk;
          ToF32(static_cast<const uint8_t*>(views[i]->data) + off * DTypeSize(views[i]->dtype), views[i]->dtype, di, len);
          for (size_t j = 0; j < len; j++) di[j] -= b[j];
        }
        double bs = 0;
        for (size_t j = 0; j < len; j++) bs += static_cast<double>(b[j]) * b[j];
        p.base_sq_norm += bs;
        p.elements += len;
        for (size_t i = 0; i < m; i++) {
          const float* di = d.data() + i * kChunk;
          for (size_t k = i; k < m; k++) {
            const float* dk = d.data() + k * kChunk;
            double dot = 0, agree = 0, both = 0;
            for (size_t j = 0; j < len; j++) {
              dot += static_cast<double>(di[j]) * dk[j];
              bool nz = di[j] != 0 && dk[j] != 0;
              both += nz;
              agree += nz && ((di[j] > 0) == (dk[j] > 0));
            }
            p.dot[i][k] += dot;
            p.agree[i][k] += agree;
            p.both_nonzero[i][k] += both;
            if (i == k) p.sq_norm[i] += dot;
          }
        }
      }
    }
    for (const TaskVectorStats& p : partial) {
      if (!p.sq_norm.empty()) ts.Add(p);
    }
    for (size_t i = 0; i < m; i++) {
      for (size_t k = 0; k < i; k++) {
        ts.dot[i][k] = ts.dot[k][i];
        ts.agree[i][k] = ts.agree[k][i];
        ts.both_nonzero[i][k] = ts.both_nonzero[k][i];
      }
    }
    for (size_t i = 0; i <= m; i++) folders[i]->Release(i == 0 ? *bv : *views[i - 1]);
    TaskVectorAnalysis::Tensor t{name, LayerIndex(name), ModuleType(name), ts};
    a.overall.Add(ts);
    if (t.layer >= 0) layers[t.layer].Add(ts);
    modules[t.module].Add(ts);
    a.tensors.push_back(std::move(t));
  }
  for (auto& [l, s2] : layers) a.by_layer.emplace_back(l, s2);
  for (auto& [mname, s2] : modules) a.by_module.emplace_back(mname, s2);
  *out = std::move(a);
  return Status::Ok();
}

namespace {

nlohmann::json StatsJson(const TaskVectorStats& s, const std::vector<std::string>& labels) {
  nlohmann::json j;
  j["elements"] = s.elements;
  j["norm"] = nlohmann::json::array();
  j["relative_norm"] = nlohmann::json::array();
  for (size_t i = 0; i < labels.size(); i++) {
    j["norm"].push_back(s.Norm(i));
    j["relative_norm"].push_back(s.RelativeNorm(i));
  }
  j["cosine"] = nlohmann::json::array();
  j["sign_agreement"] = nlohmann::json::array();
  for (size_t i = 0; i < labels.size(); i++) {
    nlohmann::json c = nlohmann::json::array(), g = nlohmann::json::array();
    for (size_t k = 0; k < labels.size(); k++) {
      c.push_back(s.Cosine(i, k));
      g.push_back(s.SignAgreement(i, k));
    }
    j["cosine"].push_back(c);
    j["sign_agreement"].push_back(g);
  }
  return j;
}

}  // namespace

nlohmann::json AnalysisToJson(const TaskVectorAnalysis& a) {
  nlohmann::json j;
  j["base"] = a.base;
  j["models"] = a.models;
  j["labels"] = a.labels;
  j["overall"] = StatsJson(a.overall, a.labels);
  j["pairs"] = nlohmann::json::array();
  for (size_t i = 0; i < a.labels.size(); i++) {
    for (size_t k = i + 1; k < a.labels.size(); k++) {
      j["pairs"].push_back({{"a", a.labels[i]},
                            {"b", a.labels[k]},
                            {"cosine", a.overall.Cosine(i, k)},
                            {"sign_agreement", a.overall.SignAgreement(i, k)}});
    }
  }
  j["by_module"] = nlohmann::json::object();
  for (const auto& [m, s] : a.by_module) j["by_module"][m] = StatsJson(s, a.labels);
  j["by_layer"] = nlohmann::json::array();
  for (const auto& [l, s] : a.by_layer) {
    nlohmann::json e = StatsJson(s, a.labels);
    e["layer"] = l;
    j["by_layer"].push_back(e);
  }
  j["tensors"] = nlohmann::json::array();
  for (const auto& t : a.tensors) {
    nlohmann::json e = StatsJson(t.stats, a.labels);
    e["name"] = t.name;
    e["layer"] = t.layer;
    e["module"] = t.module;
    j["tensors"].push_back(e);
  }
  return j;
}

std::string AnalysisToText(const TaskVectorAnalysis& a) {
  std::string out;
  char buf[512];
  const size_t m = a.labels.size();
  out += "task vectors against base " + a.base + "\n\n";
  std::snprintf(buf, sizeof buf, "%-20s %14s %12s\n", "model", "L2 norm", "rel. norm");
  out += buf;
  for (size_t i = 0; i < m; i++) {
    std::snprintf(buf, sizeof buf, "%-20s %14.6g %12.6f\n", a.labels[i].c_str(), a.overall.Norm(i), a.overall.RelativeNorm(i));
    out += buf;
  }
  if (m < 2) return out;
  out += "\n";
  std::snprintf(buf, sizeof buf, "%-20s %-20s %10s %10s\n", "pair a", "pair b", "cosine", "sign agr.");
  out += buf;
  for (size_t i = 0; i < m; i++) {
    for (size_t k = i + 1; k < m; k++) {
      std::snprintf(buf, sizeof buf, "%-20s %-20s %10.4f %10.4f\n", a.labels[i].c_str(), a.labels[k].c_str(),
                    a.overall.Cosine(i, k), a.overall.SignAgreement(i, k));
      out += buf;
    }
  }
  auto table = [&](const std::string& title, const std::vector<std::pair<std::string, const TaskVectorStats*>>& rows) {
    out += "\n" + title + " (cosine " + a.labels[0] + " vs " + a.labels[1] + ", norms)\n";
    std::snprintf(buf, sizeof buf, "%-12s %10s %10s", "", "cosine", "sign agr.");
    out += buf;
    for (size_t i = 0; i < m; i++) {
      std::snprintf(buf, sizeof buf, " %14s", ("|" + a.labels[i].substr(0, 12) + "|").c_str());
      out += buf;
    }
    out += "\n";
    for (const auto& [name, s] : rows) {
      std::snprintf(buf, sizeof buf, "%-12s %10.4f %10.4f", name.c_str(), s->Cosine(0, 1), s->SignAgreement(0, 1));
      out += buf;
      for (size_t i = 0; i < m; i++) {
        std::snprintf(buf, sizeof buf, " %14.6g", s->Norm(i));
        out += buf;
      }
      out += "\n";
    }
  };
  std::vector<std::pair<std::string, const TaskVectorStats*>> rows;
  for (const auto& [name, s] : a.by_module) rows.emplace_back(name, &s);
  table("by module type", rows);
  rows.clear();
  for (const auto& [l, s] : a.by_layer) rows.emplace_back("layer " + std::to_string(l), &s);
  table("by layer", rows);
  return out;
}

}  // namespace fm
