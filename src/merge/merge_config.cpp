#include "merge/merge_config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace fm {

namespace fs = std::filesystem;

bool ParamSetting::Evaluate(const std::string& name, double t, double* value) const {
  switch (kind) {
    case Kind::kNumber:
    case Kind::kBool:
      *value = number;
      return true;
    case Kind::kGradient: {
      // mergekit: position t*(len-1), linear interpolation between the neighbouring entries.
      const size_t len = gradient.size();
      double scaled = t * static_cast<double>(len - 1);
      size_t i0 = static_cast<size_t>(scaled);
      if (i0 > len - 1) i0 = len - 1;
      size_t i1 = std::min(len - 1, i0 + 1);
      double frac = scaled - static_cast<double>(i0);
      *value = (1 - frac) * gradient[i0] + frac * gradient[i1];
      return true;
    }
    case Kind::kConditional:
      for (const auto& [filter, setting] : conditions) {
        if (filter.empty() || filter == "*" || name.find(filter) != std::string::npos) {
          return setting.Evaluate(name, t, value);
        }
      }
      return false;
  }
  return false;
}

namespace {

std::string Where(const std::string& file, const YAML::Node& n) {
  return file + ":" + std::to_string(n.Mark().line + 1);
}

Status ParseScalar(const YAML::Node& n, const std::string& what, const std::string& file, ParamSetting* out) {
  std::string s = n.Scalar();
  try {
    size_t used = 0;
    double d = std::stod(s, &used);
    if (used == s.size()) {
      out->kind = ParamSetting::Kind::kNumber;
      out->number = d;
      return Status::Ok();
    }
  } catch (const std::exception&) {
  }
  static const std::set<std::string> kTrue = {"true", "True", "TRUE", "yes", "on"};
  static const std::set<std::string> kFalse = {"false", "False", "FALSE", "no", "off"};
  if (kTrue.count(s) || kFalse.count(s)) {
    out->kind = ParamSetting::Kind::kBool;
    out->number = kTrue.count(s) ? 1 : 0;
    return Status::Ok();
  }
  return Status::InvalidArgument(Where(file, n) + ": parameter '" + what + "' has value '" + s +
                                 "'; expected a number, a boolean, a list of numbers or a list of {filter, value}");
}

Status ParseSetting(const YAML::Node& n, const std::string& what, const std::string& file, ParamSetting* out) {
  if (n.IsScalar()) return ParseScalar(n, what, file, out);
  if (n.IsSequence()) {
    if (n.size() == 0) return Status::InvalidArgument(Where(file, n) + ": parameter '" + what + "' is an empty list");
    if (n[0].IsScalar()) {
      out->kind = ParamSetting::Kind::kGradient;
      for (const YAML::Node& e : n) {
        ParamSetting s;
        if (!e.IsScalar()) return Status::InvalidArgument(Where(file, e) + ": gradient '" + what + "' mixes numbers and other values");
        FM_RETURN_IF_ERROR(ParseScalar(e, what, file, &s));
        if (s.kind != ParamSetting::Kind::kNumber) {
          return Status::InvalidArgument(Where(file, e) + ": gradient '" + what + "' must be a list of numbers");
        }
        out->gradient.push_back(s.number);
      }
      return Status::Ok();
    }
    out->kind = ParamSetting::Kind::kConditional;
    for (const YAML::Node& e : n) {
      if (!e.IsMap() || !e["value"]) {
        return Status::InvalidArgument(Where(file, e) + ": each entry of '" + what + "' needs a 'value' (and optionally a 'filter')");
      }
      for (auto kv : e) {
        std::string k = kv.first.as<std::string>();
        if (k != "filter" && k != "value") {
          return Status::InvalidArgument(Where(file, kv.first) + ": unknown key '" + k + "' in a conditional value of '" + what +
                                         "' (expected 'filter' and 'value')");
        }
      }
      ParamSetting v;
      FM_RETURN_IF_ERROR(ParseSetting(e["value"], what, file, &v));
      std::string filter = e["filter"] && !e["filter"].IsNull() ? e["filter"].as<std::string>() : "";
      out->conditions.emplace_back(filter, v);
    }
    return Status::Ok();
  }
  if (n.IsMap() && n["value"]) {  // a single {filter, value}
    YAML::Node seq(YAML::NodeType::Sequence);
    seq.push_back(n);
    return ParseSetting(seq, what, file, out);
  }
  return Status::InvalidArgument(Where(file, n) + ": parameter '" + what + "' has an unsupported value");
}

Status ParseParams(const YAML::Node& n, const std::string& file, std::map<std::string, ParamSetting>* out) {
  if (!n || n.IsNull()) return Status::Ok();
  if (!n.IsMap()) return Status::InvalidArgument(Where(file, n) + ": 'parameters' must be a mapping");
  for (auto kv : n) {
    std::string k = kv.first.as<std::string>();
    ParamSetting s;
    FM_RETURN_IF_ERROR(ParseSetting(kv.second, k, file, &s));
    (*out)[k] = s;
  }
  return Status::Ok();
}

std::string ResolvePath(const std::string& p, const std::string& file) {
  std::error_code ec;
  if (p.empty() || fs::path(p).is_absolute() || fs::exists(p, ec) || file.empty()) return p;
  fs::path alt = fs::path(file).parent_path() / p;
  if (fs::exists(alt, ec)) return alt.string();
  return p;
}

Status ModelPath(const YAML::Node& n, const std::string& what, const std::string& file, std::string* out) {
  if (!n.IsScalar()) {
    return Status::InvalidArgument(Where(file, n) + ": '" + what + "' must be a model path (a folder)");
  }
  std::string p = n.as<std::string>();
  if (p.find('+') != std::string::npos && !fs::exists(p)) {
    return Status::Unsupported(Where(file, n) + ": '" + p + "' looks like a model+LoRA reference; merge the LoRA into the model first");
  }
  *out = ResolvePath(p, file);
  return Status::Ok();
}

Status ParseDTypeKey(const YAML::Node& n, const std::string& key, const std::string& file, std::optional<DType>* out) {
  if (!n || n.IsNull()) return Status::Ok();
  DType t;
  std::string s = n.as<std::string>();
  if (!ParseDType(s, &t) || !(t == DType::kF32 || t == DType::kF16 || t == DType::kBF16)) {
    return Status::InvalidArgument(Where(file, n) + ": " + key + " '" + s + "' is not one of float32, float16, bfloat16");
  }
  *out = t;
  return Status::Ok();
}

}  // namespace

Status ParseMergeConfig(const std::string& text, const std::string& file, MergeConfig* out) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(file + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  if (!root.IsMap()) return Status::InvalidArgument(file + ": a merge config must be a YAML mapping");
  MergeConfig c;
  c.source_file = file;
  try {
    static const std::set<std::string> kKeys = {"merge_method", "base_model", "models",        "parameters", "dtype",
                                                "out_dtype",    "tokenizer_source", "tokenizer", "chat_template"};
    for (auto kv : root) {
      std::string k = kv.first.as<std::string>();
      if (k == "slices" || k == "modules") {
        return Status::Unsupported(Where(file, kv.first) + ": '" + k +
                                   "' (layer slicing / stacking) is not supported; list whole models under 'models'");
      }
      if (!kKeys.count(k)) {
        return Status::InvalidArgument(Where(file, kv.first) + ": unknown key '" + k +
                                       "' (expected merge_method, base_model, models, parameters, dtype, out_dtype, "
                                       "tokenizer_source, tokenizer, chat_template)");
      }
    }
    if (!root["merge_method"]) return Status::InvalidArgument(file + ": missing 'merge_method'");
    c.method = root["merge_method"].as<std::string>();
    if (root["base_model"] && !root["base_model"].IsNull()) {
      FM_RETURN_IF_ERROR(ModelPath(root["base_model"], "base_model", file, &c.base_model));
    }
    const YAML::Node models = root["models"];
    if (!models || !models.IsSequence() || models.size() == 0) {
      return Status::InvalidArgument(file + ": 'models' must be a non-empty list of {model, parameters}");
    }
    for (const YAML::Node& m : models) {
      if (!m.IsMap() || !m["model"]) return Status::InvalidArgument(Where(file, m) + ": each entry of 'models' needs 'model'");
      for (auto kv : m) {
        std::string k = kv.first.as<std::string>();
        if (k != "model" && k != "parameters") {
          return Status::InvalidArgument(Where(file, kv.first) + ": unknown key '" + k + "' in a models entry (expected model, parameters)");
        }
      }
      MergeModelEntry e;
      FM_RETURN_IF_ERROR(ModelPath(m["model"], "model", file, &e.path));
      FM_RETURN_IF_ERROR(ParseParams(m["parameters"], file, &e.params));
      c.models.push_back(std::move(e));
    }
    FM_RETURN_IF_ERROR(ParseParams(root["parameters"], file, &c.params));
    FM_RETURN_IF_ERROR(ParseDTypeKey(root["dtype"], "dtype", file, &c.dtype));
    FM_RETURN_IF_ERROR(ParseDTypeKey(root["out_dtype"], "out_dtype", file, &c.out_dtype));
    YAML::Node tok_source;
    if (root["tokenizer_source"] && root["tokenizer"]) {
      return Status::InvalidArgument(file + ": give either 'tokenizer_source' or 'tokenizer', not both");
    }
    if (root["tokenizer_source"]) tok_source = root["tokenizer_source"];
    if (root["tokenizer"]) {
      const YAML::Node t = root["tokenizer"];
      if (!t.IsMap()) return Status::InvalidArgument(Where(file, t) + ": 'tokenizer' must be a mapping with 'source'");
      for (auto kv : t) {
        std::string k = kv.first.as<std::string>();
        if (k != "source") {
          return Status::Unsupported(Where(file, kv.first) + ": tokenizer." + k +
                                     " is not supported (finmerge takes the tokenizer of one model: tokenizer.source)");
        }
      }
      tok_source = t["source"];
    }
    if (tok_source && !tok_source.IsNull()) {
      std::string s = tok_source.as<std::string>();
      if (s == "union") {
        return Status::Unsupported(Where(file, tok_source) +
                                   ": tokenizer source 'union' is not supported; use 'base' or a model path (rows "
                                   "missing from other models are taken from that model, see README)");
      }
      c.tokenizer_source = s == "base" ? "base" : ResolvePath(s, file);
    }
    if (root["chat_template"] && !root["chat_template"].IsNull()) c.chat_template = root["chat_template"].as<std::string>();
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  *out = std::move(c);
  return Status::Ok();
}

Status LoadMergeConfig(const std::string& path, MergeConfig* out) {
  std::ifstream f(path);
  if (!f) return Status::NotFound(path + ": cannot open merge config");
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseMergeConfig(ss.str(), path, out);
}

namespace {

Status CheckSettingType(const ParamSetting& s, const ParamDef& def, const std::string& where) {
  switch (s.kind) {
    case ParamSetting::Kind::kNumber:
    case ParamSetting::Kind::kGradient:
      if (def.type == ParamDef::Type::kBool) {
        return Status::InvalidArgument(where + ": parameter '" + def.name + "' must be true or false");
      }
      return Status::Ok();
    case ParamSetting::Kind::kBool:
      if (def.type == ParamDef::Type::kNumber) {
        return Status::InvalidArgument(where + ": parameter '" + def.name + "' must be a number, not a boolean");
      }
      return Status::Ok();
    case ParamSetting::Kind::kConditional:
      for (const auto& [f, v] : s.conditions) FM_RETURN_IF_ERROR(CheckSettingType(v, def, where));
      return Status::Ok();
  }
  return Status::Ok();
}

const ParamDef* FindDef(const std::vector<ParamDef>& defs, const std::string& name) {
  for (const ParamDef& d : defs) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::string Names(const std::vector<ParamDef>& defs) {
  std::string s;
  for (const ParamDef& d : defs) s += (s.empty() ? "" : ", ") + d.name;
  return s.empty() ? "none" : s;
}

}  // namespace

Status ValidateMergeConfig(const MergeConfig& cfg, const MergeMethod** method_out) {
  const MergeMethod* method = FindMergeMethod(cfg.method);
  const std::string& file = cfg.source_file;
  if (!method) {
    std::string names;
    for (const MergeMethod* m : AllMergeMethods()) names += (names.empty() ? "" : ", ") + m->name();
    return Status::InvalidArgument(file + ": unknown merge_method '" + cfg.method + "' (supported: " + names + ")");
  }
  const auto globals = method->global_params();
  const auto per_model = method->model_params();
  for (const auto& [name, setting] : cfg.params) {
    const ParamDef* d = FindDef(globals, name);
    if (!d) d = FindDef(per_model, name);
    if (!d) {
      return Status::InvalidArgument(file + ": unknown parameter '" + name + "' for " + cfg.method + " (parameters: " +
                                     Names(globals) + "; per model: " + Names(per_model) + ")");
    }
    FM_RETURN_IF_ERROR(CheckSettingType(setting, *d, file + ": parameters"));
  }
  for (const ParamDef& d : globals) {
    if (d.required && !cfg.params.count(d.name)) {
      return Status::InvalidArgument(file + ": " + cfg.method + " needs parameter '" + d.name + "' (" + d.help + ")");
    }
  }
  if (method->requires_base() && cfg.base_model.empty()) {
    return Status::InvalidArgument(file + ": " + cfg.method + " needs a base_model");
  }
  int counted = 0;
  for (size_t i = 0; i < cfg.models.size(); i++) {
    const MergeModelEntry& m = cfg.models[i];
    const std::string where = file + ": models[" + std::to_string(i) + "] (" + m.path + ")";
    bool is_base = method->requires_base() && m.path == cfg.base_model;
    for (const auto& [name, setting] : m.params) {
      const ParamDef* d = FindDef(per_model, name);
      if (!d) {
        return Status::InvalidArgument(where + ": unknown parameter '" + name + "' for " + cfg.method +
                                       " (per-model parameters: " + Names(per_model) + ")");
      }
      FM_RETURN_IF_ERROR(CheckSettingType(setting, *d, where));
    }
    if (is_base) continue;
    counted++;
    for (const ParamDef& d : per_model) {
      if (d.required && !m.params.count(d.name) && !cfg.params.count(d.name)) {
        return Status::InvalidArgument(where + ": missing required parameter '" + d.name + "' for " + cfg.method);
      }
    }
  }
  if (counted < method->min_models() || counted > method->max_models()) {
    std::string want = method->min_models() == method->max_models()
                           ? std::to_string(method->min_models())
                           : "at least " + std::to_string(method->min_models());
    return Status::InvalidArgument(file + ": " + cfg.method + " merges " + want + " model(s) besides the base; got " +
                                   std::to_string(counted));
  }
  *method_out = method;
  return Status::Ok();
}

namespace {

void EmitSetting(YAML::Emitter& e, const ParamSetting& s, const ParamDef::Type* type) {
  switch (s.kind) {
    case ParamSetting::Kind::kNumber:
      e << s.number;
      break;
    case ParamSetting::Kind::kBool:
      e << (s.number != 0);
      break;
    case ParamSetting::Kind::kGradient:
      e << YAML::Flow << YAML::BeginSeq;
      for (double d : s.gradient) e << d;
      e << YAML::EndSeq;
      break;
    case ParamSetting::Kind::kConditional:
      e << YAML::BeginSeq;
      for (const auto& [f, v] : s.conditions) {
        e << YAML::BeginMap;
        if (!f.empty()) e << YAML::Key << "filter" << YAML::Value << f;
        e << YAML::Key << "value" << YAML::Value;
        EmitSetting(e, v, type);
        e << YAML::EndMap;
      }
      e << YAML::EndSeq;
      break;
  }
}

void EmitParams(YAML::Emitter& e, const std::map<std::string, ParamSetting>& params) {
  e << YAML::BeginMap;
  for (const auto& [k, v] : params) {
    e << YAML::Key << k << YAML::Value;
    EmitSetting(e, v, nullptr);
  }
  e << YAML::EndMap;
}

const char* TorchName(DType t) {
  return t == DType::kBF16 ? "bfloat16" : t == DType::kF16 ? "float16" : "float32";
}

}  // namespace

std::string MergeConfigToYaml(const MergeConfig& c) {
  YAML::Emitter e;
  e.SetDoublePrecision(17);
  e << YAML::BeginMap;
  e << YAML::Key << "merge_method" << YAML::Value << c.method;
  if (!c.base_model.empty()) e << YAML::Key << "base_model" << YAML::Value << c.base_model;
  e << YAML::Key << "models" << YAML::Value << YAML::BeginSeq;
  for (const auto& m : c.models) {
    e << YAML::BeginMap << YAML::Key << "model" << YAML::Value << m.path;
    if (!m.params.empty()) {
      e << YAML::Key << "parameters" << YAML::Value;
      EmitParams(e, m.params);
    }
    e << YAML::EndMap;
  }
  e << YAML::EndSeq;
  if (!c.params.empty()) {
    e << YAML::Key << "parameters" << YAML::Value;
    EmitParams(e, c.params);
  }
  if (c.dtype) e << YAML::Key << "dtype" << YAML::Value << TorchName(*c.dtype);
  if (c.out_dtype) e << YAML::Key << "out_dtype" << YAML::Value << TorchName(*c.out_dtype);
  if (!c.tokenizer_source.empty()) e << YAML::Key << "tokenizer_source" << YAML::Value << c.tokenizer_source;
  if (!c.chat_template.empty()) e << YAML::Key << "chat_template" << YAML::Value << c.chat_template;
  e << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

}  // namespace fm
