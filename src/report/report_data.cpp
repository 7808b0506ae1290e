#include "report/report_data.h"

#include <cstdio>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fm::report {

namespace {

using Json = nlohmann::ordered_json;

Status ReadText(const std::string& path, std::string* out) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return Status::NotFound(path + ": no such file");
  if (std::filesystem::is_directory(path, ec))
    return Status::InvalidArgument(path + ": is a folder, not a file");
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::IOError(path + ": cannot open for reading");
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return Status::Ok();
}

// nlohmann's message without its "[json.exception.parse_error.101] parse error at line 1, column 2: " prefix.
std::string ShortParseMessage(const std::string& what) {
  size_t p = what.find("] ");
  std::string m = p == std::string::npos ? what : what.substr(p + 2);
  p = m.find(": ");
  if (m.rfind("parse error", 0) == 0 && p != std::string::npos) m = m.substr(p + 2);
  return m;
}

int LineOfByte(const std::string& text, size_t byte) {
  byte = std::min(byte, text.size());
  // nlohmann reports the position one past the offending character.
  const size_t end = byte > 0 ? byte - 1 : 0;
  return 1 +
         static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(end), '\n'));
}

bool IsNumber(const Json& j) {
  return j.is_number();
}

// A number, or NaN for null (how nlohmann writes NaN/inf).
bool NumberOrNull(const Json& j, double* v) {
  if (j.is_null()) {
    *v = NAN;
    return true;
  }
  if (!IsNumber(j)) return false;
  *v = j.get<double>();
  return true;
}

Status Field(const std::string& where, const std::string& key, const char* expected) {
  return Status::Corruption(where + ": '" + key + "' must be " + expected);
}

Status ReadDoubles(const Json& j, const std::string& where, const std::string& key,
                   std::vector<double>* out) {
  if (!j.contains(key)) return Field(where, key, "present (an array of numbers)");
  const Json& a = j.at(key);
  if (!a.is_array()) return Field(where, key, "an array of numbers");
  out->clear();
  for (const Json& v : a) {
    double d;
    if (!NumberOrNull(v, &d)) return Field(where, key, "an array of numbers");
    out->push_back(d);
  }
  return Status::Ok();
}

Status ReadMatrix(const Json& j, const std::string& where, const std::string& key, size_t n,
                  std::vector<std::vector<double>>* out) {
  if (!j.contains(key)) return Field(where, key, "present (a square array of numbers)");
  const Json& a = j.at(key);
  if (!a.is_array() || a.size() != n) {
    return Field(where, key, ("an array of " + std::to_string(n) + " rows (one per model)").c_str());
  }
  out->assign(n, {});
  for (size_t i = 0; i < n; i++) {
    if (!a[i].is_array() || a[i].size() != n) {
      return Field(where, key, ("a " + std::to_string(n) + " x " + std::to_string(n) + " array").c_str());
    }
    for (const Json& v : a[i]) {
      double d;
      if (!NumberOrNull(v, &d)) return Field(where, key, "an array of arrays of numbers");
      (*out)[i].push_back(d);
    }
  }
  return Status::Ok();
}

Status ReadStats(const Json& j, const std::string& where, size_t n, VectorStats* s) {
  if (!j.is_object()) return Status::Corruption(where + ": must be an object");
  FM_RETURN_IF_ERROR(ReadDoubles(j, where, "norm", &s->norm));
  if (s->norm.size() != n)
    return Field(where, "norm", ("an array of " + std::to_string(n) + " numbers").c_str());
  if (j.contains("relative_norm")) {
    FM_RETURN_IF_ERROR(ReadDoubles(j, where, "relative_norm", &s->relative_norm));
  }
  if (s->relative_norm.size() != n) s->relative_norm.assign(n, NAN);
  FM_RETURN_IF_ERROR(ReadMatrix(j, where, "cosine", n, &s->cosine));
  if (j.contains("sign_agreement")) {
    FM_RETURN_IF_ERROR(ReadMatrix(j, where, "sign_agreement", n, &s->sign_agreement));
  } else {
    s->sign_agreement.assign(n, std::vector<double>(n, NAN));
  }
  if (j.contains("elements") && j.at("elements").is_number()) s->elements = j.at("elements").get<uint64_t>();
  return Status::Ok();
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool Has(const std::string& s, const char* needle) {
  return s.find(needle) != std::string::npos;
}

// Flattens nested objects into dotted keys; scalars shown as text.
void Flatten(const Json& j, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>* out) {
  if (j.is_object() && !j.empty()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      Flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    }
    return;
  }
  std::string v;
  if (j.is_string()) {
    v = j.get<std::string>();
  } else if (j.is_number_float()) {
    // Settings often pass through f32 (0.001f prints as 0.0010000000474974513): 7 significant digits.
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.7g", j.get<double>());
    v = buf;
  } else if (j.is_array() &&
             std::all_of(j.begin(), j.end(), [](const Json& e) { return e.is_primitive(); })) {
    for (const Json& e : j) v += (v.empty() ? "" : ", ") + (e.is_string() ? e.get<std::string>() : e.dump());
    if (j.empty()) v = "[]";
  } else {
    v = j.dump();
  }
  out->push_back({prefix, v});
}

void FlattenMetrics(const Json& j, const std::string& prefix,
                    std::vector<std::pair<std::string, double>>* out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      FlattenMetrics(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
    }
  } else if (j.is_number()) {
    out->push_back({prefix, j.get<double>()});
  } else if (j.is_boolean()) {
    out->push_back({prefix, j.get<bool>() ? 1.0 : 0.0});
  } else if (j.is_null()) {
    out->push_back({prefix, NAN});
  }
  // Strings and arrays are descriptions, not measurements: not shown in the table.
}

}  // namespace

Status ReadJsonFile(const std::string& path, Json* out) {
  std::string text;
  FM_RETURN_IF_ERROR(ReadText(path, &text));
  try {
    *out = Json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return Status::Corruption(path + ":" + std::to_string(LineOfByte(text, e.byte)) + ": invalid JSON (" +
                              ShortParseMessage(e.what()) + ")");
  }
  return Status::Ok();
}

Status ReadLossCurve(const std::string& path, LossCurve* out) {
  std::string text;
  FM_RETURN_IF_ERROR(ReadText(path, &text));
  LossCurve c;
  c.path = path;
  c.label = out->label;
  std::vector<double> tps;
  std::istringstream in(text);
  int line_no = 0;
  const std::string hint =
      " (expected one JSON object a line with \"step\" and \"loss\", as written by finmerge cpt/sft)";
  for (std::string line; std::getline(in, line);) {
    line_no++;
    if (std::all_of(line.begin(), line.end(), [](unsigned char ch) { return std::isspace(ch); })) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    Json j;
    try {
      j = Json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      return Status::Corruption(where + ": invalid JSON (" + ShortParseMessage(e.what()) + ")" + hint);
    }
    if (!j.is_object()) return Status::Corruption(where + ": not a JSON object" + hint);
    double step, loss;
    if (!j.contains("step") || !j.at("step").is_number()) {
      return Status::Corruption(where + ": no numeric \"step\"" + hint);
    }
    step = j.at("step").get<double>();
    if (!j.contains("loss") || !NumberOrNull(j.at("loss"), &loss)) {
      return Status::Corruption(where + ": no numeric \"loss\"" + hint);
    }
    if (!c.train.empty() && step <= c.train.back().first) {
      return Status::Corruption(where + ": step " + j.at("step").dump() + " does not follow step " +
                                std::to_string(static_cast<long long>(c.train.back().first)) +
                                " (steps must increase; were two runs' metrics concatenated?)");
    }
    if (std::isfinite(loss)) {
      c.train.push_back({step, loss});
    } else {
      c.nonfinite++;
    }
    double v;
    if (j.contains("val_loss")) {
      if (!NumberOrNull(j.at("val_loss"), &v))
        return Status::Corruption(where + ": \"val_loss\" is not a number");
      if (std::isfinite(v)) c.val.push_back({step, v});
    }
    if (j.contains("lr") && NumberOrNull(j.at("lr"), &v) && std::isfinite(v)) c.lr.push_back({step, v});
    if (j.contains("tokens_per_s") && NumberOrNull(j.at("tokens_per_s"), &v) && std::isfinite(v))
      tps.push_back(v);
  }
  if (!tps.empty()) {
    std::nth_element(tps.begin(), tps.begin() + static_cast<std::ptrdiff_t>(tps.size() / 2), tps.end());
    c.median_tokens_per_s = tps[tps.size() / 2];
  }
  *out = std::move(c);
  return Status::Ok();
}

std::vector<std::pair<double, double>> Smooth(const std::vector<std::pair<double, double>>& pts,
                                              double weight) {
  std::vector<std::pair<double, double>> out;
  out.reserve(pts.size());
  double ema = 0, norm = 0;
  for (auto [x, y] : pts) {
    ema = weight * ema + (1 - weight) * y;
    norm = weight * norm + (1 - weight);
    out.push_back({x, ema / norm});
  }
  return out;
}

double SmoothingWeight(size_t n) {
  if (n < 8) return 0.0;
  // About n/25 points of memory, between 0.6 and 0.98.
  return std::clamp(1.0 - 25.0 / static_cast<double>(n), 0.6, 0.98);
}

Status ReadAnalysis(const std::string& path, AnalysisData* out) {
  Json j;
  FM_RETURN_IF_ERROR(ReadJsonFile(path, &j));
  const std::string hint = " (is this the output of finmerge analyze --json?)";
  if (!j.is_object()) return Status::Corruption(path + ": not a JSON object" + hint);
  AnalysisData a;
  a.path = path;
  if (j.contains("base") && j.at("base").is_string()) a.base = j.at("base").get<std::string>();
  if (!j.contains("labels") || !j.at("labels").is_array() || j.at("labels").empty()) {
    return Status::Corruption(path + ": 'labels' must be a non-empty array of model names" + hint);
  }
  for (const Json& l : j.at("labels")) {
    if (!l.is_string()) return Status::Corruption(path + ": 'labels' must be an array of strings" + hint);
    a.labels.push_back(l.get<std::string>());
  }
  const size_t n = a.labels.size();
  if (!j.contains("overall")) return Status::Corruption(path + ": no 'overall' statistics" + hint);
  FM_RETURN_IF_ERROR(ReadStats(j.at("overall"), path + ": overall", n, &a.overall));
  if (j.contains("by_layer")) {
    if (!j.at("by_layer").is_array())
      return Status::Corruption(path + ": 'by_layer' must be an array" + hint);
    size_t i = 0;
    for (const Json& e : j.at("by_layer")) {
      const std::string where = path + ": by_layer[" + std::to_string(i++) + "]";
      if (!e.is_object() || !e.contains("layer") || !e.at("layer").is_number_integer()) {
        return Status::Corruption(where + ": needs an integer 'layer'");
      }
      VectorStats s;
      FM_RETURN_IF_ERROR(ReadStats(e, where, n, &s));
      a.by_layer.push_back({e.at("layer").get<int>(), std::move(s)});
    }
  }
  if (j.contains("by_module")) {
    if (!j.at("by_module").is_object())
      return Status::Corruption(path + ": 'by_module' must be an object" + hint);
    for (auto it = j.at("by_module").begin(); it != j.at("by_module").end(); ++it) {
      VectorStats s;
      FM_RETURN_IF_ERROR(ReadStats(it.value(), path + ": by_module." + it.key(), n, &s));
      a.by_module.push_back({it.key(), std::move(s)});
    }
  }
  if (j.contains("tensors")) {
    if (!j.at("tensors").is_array()) return Status::Corruption(path + ": 'tensors' must be an array" + hint);
    size_t i = 0;
    for (const Json& e : j.at("tensors")) {
      const std::string where = path + ": tensors[" + std::to_string(i++) + "]";
      if (!e.is_object() || !e.contains("name") || !e.at("name").is_string()) {
        return Status::Corruption(where + ": needs a string 'name'");
      }
      AnalysisData::Tensor t;
      t.name = e.at("name").get<std::string>();
      if (e.contains("layer") && e.at("layer").is_number_integer()) t.layer = e.at("layer").get<int>();
      if (e.contains("module") && e.at("module").is_string()) t.module = e.at("module").get<std::string>();
      FM_RETURN_IF_ERROR(ReadStats(e, where + " (" + t.name + ")", n, &t.stats));
      a.tensors.push_back(std::move(t));
    }
  }
  *out = std::move(a);
  return Status::Ok();
}

std::string HeatmapColumn(const std::string& tensor_name, const std::string& module) {
  const std::string n = Lower(tensor_name);
  if (Has(n, "q_norm") || Has(n, "attn_q_norm")) return "q norm";
  if (Has(n, "k_norm") || Has(n, "attn_k_norm")) return "k norm";
  if (Has(n, "input_layernorm") || Has(n, "attn_norm") || Has(n, ".ln_1") || Has(n, "ln_attn"))
    return "attn norm";
  if (Has(n, "post_attention_layernorm") || Has(n, "ffn_norm") || Has(n, ".ln_2") || Has(n, "ln_mlp")) {
    return "mlp norm";
  }
  if (Has(n, "norm") || Has(n, "ln_f")) return "norm";
  if (Has(n, "embed") || Has(n, "wte") || Has(n, "token_embd")) return "embed";
  if (Has(n, "lm_head") || n == "output.weight") return "lm_head";
  if (Has(n, "q_proj") || Has(n, "attn_q.") || Has(n, ".wq.")) return "q";
  if (Has(n, "k_proj") || Has(n, "attn_k.") || Has(n, ".wk.")) return "k";
  if (Has(n, "v_proj") || Has(n, "attn_v.") || Has(n, ".wv.")) return "v";
  if (Has(n, "qkv") || Has(n, "c_attn") || Has(n, "query_key_value")) return "qkv";
  if (Has(n, "o_proj") || Has(n, "attn.c_proj") || Has(n, "attn_output") || Has(n, ".wo.")) return "o";
  if (Has(n, "gate_up")) return "gate_up";
  if (Has(n, "gate_proj") || Has(n, "ffn_gate") || Has(n, ".w1.")) return "gate";
  if (Has(n, "up_proj") || Has(n, "ffn_up") || Has(n, ".w3.") || Has(n, "c_fc")) return "up";
  if (Has(n, "down_proj") || Has(n, "ffn_down") || Has(n, ".w2.") || Has(n, "mlp.c_proj")) return "down";
  return module.empty() ? "other" : module;
}

int ColumnOrder(const std::string& c) {
  static const char* kOrder[] = {"q",         "k",        "v",    "qkv",     "o",      "q norm",
                                 "k norm",    "gate",     "up",   "gate_up", "down",   "mlp",
                                 "attn norm", "mlp norm", "norm", "embed",   "lm_head"};
  for (size_t i = 0; i < sizeof kOrder / sizeof kOrder[0]; i++) {
    if (c == kOrder[i]) return static_cast<int>(i);
  }
  return 1000;
}

Status ReadResults(const std::string& path, ResultsData* out) {
  Json j;
  FM_RETURN_IF_ERROR(ReadJsonFile(path, &j));
  const std::string hint =
      " (expected {\"models\": {MODEL: {METRIC: value}}}, as written by finmerge demo or finmerge eval "
      "--json)";
  if (!j.is_object()) return Status::Corruption(path + ": not a JSON object" + hint);
  if (!j.contains("models") || !j.at("models").is_object()) {
    return Status::Corruption(path + ": no 'models' object" + hint);
  }
  ResultsData r;
  r.path = path;
  if (j.contains("primary_metric")) {
    if (!j.at("primary_metric").is_string())
      return Status::Corruption(path + ": 'primary_metric' must be a string");
    r.primary_metric = j.at("primary_metric").get<std::string>();
  }
  std::vector<std::vector<std::pair<std::string, double>>> rows;
  for (auto it = j.at("models").begin(); it != j.at("models").end(); ++it) {
    if (!it.value().is_object()) {
      return Status::Corruption(path + ": models." + it.key() + " must be an object of metric values" + hint);
    }
    r.models.push_back(it.key());
    rows.emplace_back();
    FlattenMetrics(it.value(), "", &rows.back());
    for (const auto& [k, v] : rows.back()) {
      if (std::find(r.metrics.begin(), r.metrics.end(), k) == r.metrics.end()) r.metrics.push_back(k);
    }
  }
  // "M_stderr" next to a metric M is M's standard error (as `finmerge eval --json` writes it), not a metric.
  auto is_stderr_of = [&](const std::string& k) -> std::string {
    const std::string suffix = "_stderr";
    if (k.size() <= suffix.size() || k.compare(k.size() - suffix.size(), suffix.size(), suffix) != 0)
      return "";
    const std::string base = k.substr(0, k.size() - suffix.size());
    return std::find(r.metrics.begin(), r.metrics.end(), base) != r.metrics.end() ? base : "";
  };
  std::vector<std::string> metrics;
  for (const std::string& k : r.metrics) {
    if (is_stderr_of(k).empty()) metrics.push_back(k);
  }
  // The order of a top-level "metrics" list when there is one (eval's column order), then the primary metric
  // first.
  if (j.contains("metrics") && j.at("metrics").is_array()) {
    std::vector<std::string> ordered;
    for (const auto& m : j.at("metrics")) {
      if (m.is_string() && std::find(metrics.begin(), metrics.end(), m.get<std::string>()) != metrics.end()) {
        ordered.push_back(m.get<std::string>());
      }
    }
    for (const std::string& k : metrics) {
      if (std::find(ordered.begin(), ordered.end(), k) == ordered.end()) ordered.push_back(k);
    }
    metrics = ordered;
  }
  auto p = std::find(metrics.begin(), metrics.end(), r.primary_metric);
  if (p != metrics.end()) std::rotate(metrics.begin(), p, p + 1);
  r.metrics = metrics;
  r.values.assign(r.models.size(), std::vector<double>(r.metrics.size(), NAN));
  r.stderrs.assign(r.models.size(), std::vector<double>(r.metrics.size(), NAN));
  auto column = [&](const std::string& k) {
    return static_cast<size_t>(std::find(r.metrics.begin(), r.metrics.end(), k) - r.metrics.begin());
  };
  for (size_t m = 0; m < rows.size(); m++) {
    for (const auto& [k, v] : rows[m]) {
      const size_t c = column(k);
      if (c < r.metrics.size()) {
        r.values[m][c] = v;
      } else {
        r.stderrs[m][column(is_stderr_of(k))] = v;
      }
    }
  }
  if (j.contains("task_vector_cosine")) {
    double v;
    if (!NumberOrNull(j.at("task_vector_cosine"), &v)) {
      return Status::Corruption(path + ": 'task_vector_cosine' must be a number");
    }
    r.has_cosine = std::isfinite(v);
    r.task_vector_cosine = v;
  }
  if (j.contains("stage_seconds")) {
    if (!j.at("stage_seconds").is_object()) {
      return Status::Corruption(path + ": 'stage_seconds' must be an object {STAGE: seconds}");
    }
    for (auto it = j.at("stage_seconds").begin(); it != j.at("stage_seconds").end(); ++it) {
      double v;
      if (!NumberOrNull(it.value(), &v)) {
        return Status::Corruption(path + ": stage_seconds." + it.key() + " must be a number of seconds");
      }
      r.stage_seconds.push_back({it.key(), v});
    }
  }
  *out = std::move(r);
  return Status::Ok();
}

bool LowerIsBetter(const std::string& metric) {
  const std::string m = Lower(metric);
  for (const char* k : {"perplexity", "ppl", "loss", "error", "seconds", "latency", "time", "bpb", "nll"}) {
    if (Has(m, k)) return true;
  }
  return false;
}

Status ReadSettings(const std::string& path, std::vector<std::pair<std::string, std::string>>* out) {
  Json j;
  FM_RETURN_IF_ERROR(ReadJsonFile(path, &j));
  if (!j.is_object())
    return Status::Corruption(path + ": settings must be a JSON object {\"name\": value, ...}");
  out->clear();
  if (!j.empty()) Flatten(j, "", out);
  return Status::Ok();
}

}  // namespace fm::report
