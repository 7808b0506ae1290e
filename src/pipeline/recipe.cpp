#include "pipeline/recipe.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace fm {

namespace fs = std::filesystem;

namespace {

// Parsing context: the file name for messages and the folder relative paths are anchored at.
struct Ctx {
  std::string file;
  fs::path dir;

  Status Error(const YAML::Node& n, const std::string& what) const {
    const int line = n.Mark().line >= 0 ? n.Mark().line + 1 : 0;
    return Status::InvalidArgument(file + ":" + std::to_string(line) + ": " + what);
  }
  std::string Path(const std::string& p) const {
    if (p.empty() || fs::path(p).is_absolute()) return p;
    return (dir / p).lexically_normal().string();
  }
};

Status CheckKeys(const Ctx& c, const YAML::Node& map, const std::string& section,
                 const std::set<std::string>& allowed) {
  if (!map.IsMap()) return c.Error(map, section + " must be a mapping");
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    if (!allowed.count(key)) {
      std::string list;
      for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return c.Error(kv.first, "unknown key '" + key + "' in " + section + " (known: " + list + ")");
    }
  }
  return Status::Ok();
}

template <typename T>
Status Get(const Ctx& c, const YAML::Node& map, const char* key, T* out) {
  const YAML::Node n = map[key];
  if (!n) return Status::Ok();
  try {
    *out = n.as<T>();
  } catch (const YAML::Exception&) {
    return c.Error(n, std::string("'") + key + "' has the wrong type");
  }
  return Status::Ok();
}

Status GetPath(const Ctx& c, const YAML::Node& map, const char* key, std::string* out) {
  std::string v;
  Status s = Get(c, map, key, &v);
  if (!s.ok()) return s;
  if (!v.empty()) *out = c.Path(v);
  return Status::Ok();
}

Status GetPaths(const Ctx& c, const YAML::Node& map, const char* key, std::vector<std::string>* out) {
  const YAML::Node n = map[key];
  if (!n) return Status::Ok();
  out->clear();
  if (n.IsScalar()) {
    out->push_back(c.Path(n.as<std::string>()));
    return Status::Ok();
  }
  if (!n.IsSequence()) return c.Error(n, std::string("'") + key + "' must be a path or a list of paths");
  for (const auto& e : n) {
    if (!e.IsScalar()) return c.Error(e, std::string("'") + key + "' entries must be paths");
    out->push_back(c.Path(e.as<std::string>()));
  }
  return Status::Ok();
}

nlohmann::ordered_json ToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::ordered_json j = nlohmann::ordered_json::object();
      for (const auto& kv : n) j[kv.first.as<std::string>()] = ToJson(kv.second);
      return j;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::ordered_json j = nlohmann::ordered_json::array();
      for (const auto& e : n) j.push_back(ToJson(e));
      return j;
    }
    case YAML::NodeType::Scalar: {
      const std::string s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted
      if (s == "true" || s == "false") return s == "true";
      try {
        size_t pos = 0;
        const long long i = std::stoll(s, &pos);
        if (pos == s.size()) return i;
        const double d = std::stod(s, &pos);
        if (pos == s.size()) return d;
      } catch (...) {
      }
      return s;
    }
    default:
      return nullptr;
  }
}

Status ParseCorpus(const Ctx& c, const YAML::Node& n, const std::string& section, bool replay, RecipeCorpus* out) {
  if (n.IsScalar() || n.IsSequence()) {  // shorthand: just the paths
    YAML::Node m;
    m["paths"] = n;
    return ParseCorpus(c, m, section, replay, out);
  }
  std::set<std::string> keys = {"paths", "blank_line_docs", "val_fraction"};
  if (replay) keys.insert("fraction");
  Status s = CheckKeys(c, n, section, keys);
  if (s.ok()) s = GetPaths(c, n, "paths", &out->paths);
  if (s.ok()) s = Get(c, n, "blank_line_docs", &out->blank_line_docs);
  if (s.ok()) s = Get(c, n, "val_fraction", &out->val_fraction);
  if (s.ok()) s = Get(c, n, "fraction", &out->fraction);
  if (!s.ok()) return s;
  if (out->paths.empty()) return c.Error(n, section + ".paths is empty: name the text or JSONL files/folders");
  if (out->val_fraction < 0 || out->val_fraction >= 1) return c.Error(n, section + ".val_fraction must be in [0, 1)");
  if (replay && (out->fraction <= 0 || out->fraction >= 1)) {
    return c.Error(n, "replay.fraction must be in (0, 1), e.g. 0.1");
  }
  return Status::Ok();
}

Status ParseCpt(const Ctx& c, const YAML::Node& n, Recipe* r) {
  Status s = CheckKeys(c, n, "cpt",
                       {"steps", "seq_len", "batch_size", "grad_accum", "lr", "min_lr", "warmup", "decay",
                        "weight_decay", "clip", "seed", "save_every", "eval_every", "eval_batches", "precision",
                        "threads", "beta1", "beta2"});
  TrainOptions& o = r->cpt;
  bool has_min_lr = static_cast<bool>(n["min_lr"]), has_warmup = static_cast<bool>(n["warmup"]);
  if (s.ok()) s = Get(c, n, "steps", &o.steps);
  if (s.ok()) s = Get(c, n, "seq_len", &o.seq_len);
  if (s.ok()) s = Get(c, n, "batch_size", &o.batch_size);
  if (s.ok()) s = Get(c, n, "grad_accum", &o.grad_accum);
  if (s.ok()) s = Get(c, n, "lr", &o.schedule.max_lr);
  if (s.ok()) s = Get(c, n, "min_lr", &o.schedule.min_lr);
  if (s.ok()) s = Get(c, n, "warmup", &o.schedule.warmup_steps);
  if (s.ok()) s = Get(c, n, "decay", &r->cpt_decay);
  if (s.ok()) s = Get(c, n, "weight_decay", &o.adamw.weight_decay);
  if (s.ok()) s = Get(c, n, "beta1", &o.adamw.beta1);
  if (s.ok()) s = Get(c, n, "beta2", &o.adamw.beta2);
  if (s.ok()) s = Get(c, n, "clip", &o.clip);
  if (s.ok()) s = Get(c, n, "seed", &o.seed);
  if (s.ok()) s = Get(c, n, "save_every", &o.save_every);
  if (s.ok()) s = Get(c, n, "eval_every", &o.eval_every);
  if (s.ok()) s = Get(c, n, "eval_batches", &o.eval_batches);
  if (s.ok()) s = Get(c, n, "precision", &o.precision);
  if (s.ok()) s = Get(c, n, "threads", &o.threads);
  if (!s.ok()) return s;
  if (o.steps <= 0 || o.seq_len <= 1 || o.batch_size <= 0 || o.grad_accum <= 0) {
    return c.Error(n, "cpt.steps, batch_size and grad_accum must be positive and seq_len at least 2");
  }
  if (!(o.schedule.max_lr > 0)) return c.Error(n, "cpt.lr must be positive");
  if (!has_min_lr) o.schedule.min_lr = o.schedule.max_lr / 10.0f;
  if (!has_warmup) o.schedule.warmup_steps = o.steps / 20;
  return ParseLrDecay(r->cpt_decay, &o.schedule.decay).WithPrefix(c.file + ": cpt.decay");
}

// The merge section is mergekit YAML; `models` and `base_model` default to the paper's chat vector and may
// name the pipeline's models by the placeholders base, instruct and cpt.
Status ParseMerge(const Ctx& c, const YAML::Node& n, Recipe* r) {
  YAML::Node m = YAML::Clone(n);
  if (m["instruct_weight"]) {
    Status s = Get(c, m, "instruct_weight", &r->instruct_weight);
    if (!s.ok()) return s;
    m.remove("instruct_weight");
  }
  if (m["method"]) {  // finmerge's own spelling of mergekit's merge_method
    if (m["merge_method"]) return c.Error(n["method"], "merge: give merge_method or method, not both");
    m["merge_method"] = m["method"];
    m.remove("method");
  }
  if (!m["merge_method"]) m["merge_method"] = "task_arithmetic";
  if (!m["base_model"]) m["base_model"] = "base";
  if (!m["models"]) {
    YAML::Node cpt, inst;
    cpt["model"] = "cpt";
    cpt["parameters"]["weight"] = 1.0;
    inst["model"] = "instruct";
    inst["parameters"]["weight"] = r->instruct_weight;
    m["models"].push_back(cpt);
    m["models"].push_back(inst);
  } else if (n["instruct_weight"]) {
    return c.Error(n["instruct_weight"], "merge.instruct_weight applies to the default models only; with "
                                         "merge.models give each model's weight in its parameters");
  }
  if (!m["tokenizer_source"]) m["tokenizer_source"] = "instruct";
  YAML::Emitter e;
  e << m;
  r->merge_yaml = e.c_str();
  return Status::Ok();
}

Status ParseEval(const Ctx& c, const YAML::Node& n, RecipeEval* e) {
  Status s = CheckKeys(c, n, "eval",
                       {"models", "tasks", "prompt_style", "ppl", "ppl_stride", "ifeval", "ifeval_limit",
                        "chat_format", "max_new_tokens", "limit"});
  if (s.ok() && n["models"]) {
    e->models.clear();
    if (!n["models"].IsSequence()) return c.Error(n["models"], "eval.models must be a list");
    for (const auto& m : n["models"]) {
      const std::string name = m.as<std::string>();
      if (name != "base" && name != "instruct" && name != "cpt" && name != "merged") {
        return c.Error(m, "eval.models: '" + name + "' is not one of base, instruct, cpt, merged");
      }
      e->models.push_back(name);
    }
  }
  if (s.ok()) s = GetPaths(c, n, "tasks", &e->tasks);
  if (s.ok()) s = Get(c, n, "prompt_style", &e->prompt_style);
  if (s.ok()) s = GetPaths(c, n, "ppl", &e->ppl);
  if (s.ok()) s = Get(c, n, "ppl_stride", &e->ppl_stride);
  if (s.ok()) s = GetPath(c, n, "ifeval", &e->ifeval);
  if (s.ok()) s = Get(c, n, "ifeval_limit", &e->ifeval_limit);
  if (s.ok()) s = Get(c, n, "chat_format", &e->chat_format);
  if (s.ok()) s = Get(c, n, "max_new_tokens", &e->max_new_tokens);
  if (s.ok()) s = Get(c, n, "limit", &e->limit);
  if (!s.ok()) return s;
  if (e->prompt_style != "default" && e->prompt_style != "alpaca") {
    return c.Error(n["prompt_style"], "eval.prompt_style must be default or alpaca");
  }
  if (e->tasks.empty() && e->ppl.empty() && e->ifeval.empty()) {
    return c.Error(n, "eval names no tasks, ppl files or ifeval file");
  }
  return Status::Ok();
}

}  // namespace

Status ParseRecipe(const std::string& yaml_text, const std::string& file, Recipe* out) {
  Recipe r;
  r.file = file;
  Ctx c{file, fs::path(file).parent_path()};
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    return Status::InvalidArgument(file + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
  }
  if (!root.IsMap()) return Status::InvalidArgument(file + ": a recipe is a YAML mapping (see examples/)");
  Status s = CheckKeys(c, root, "the recipe",
                       {"name", "run_dir", "base", "instruct", "cpt_model", "tokenizer", "corpus", "replay", "cpt",
                        "merge", "analyze", "eval", "report"});
  if (!s.ok()) return s;
  r.raw = ToJson(root);
  r.name = fs::path(file).stem().string();
  if (s.ok()) s = Get(c, root, "name", &r.name);
  if (s.ok()) s = GetPath(c, root, "base", &r.base);
  if (s.ok()) s = GetPath(c, root, "instruct", &r.instruct);
  if (s.ok()) s = GetPath(c, root, "cpt_model", &r.cpt_model);
  if (s.ok()) s = GetPath(c, root, "tokenizer", &r.tokenizer);
  if (s.ok()) s = Get(c, root, "analyze", &r.analyze);
  if (s.ok()) s = Get(c, root, "report", &r.report);
  if (!s.ok()) return s;
  r.run_dir = c.Path("runs/" + r.name);
  if (s.ok()) s = GetPath(c, root, "run_dir", &r.run_dir);
  if (r.base.empty()) return c.Error(root, "the recipe needs 'base' (the public base model)");
  if (r.instruct.empty()) return c.Error(root, "the recipe needs 'instruct' (the base's public instruct model)");
  if (r.tokenizer.empty()) r.tokenizer = r.base;
  if (r.cpt_model.empty()) {
    if (!root["corpus"]) return c.Error(root, "the recipe needs 'corpus' (domain text) or 'cpt_model'");
    s = ParseCorpus(c, root["corpus"], "corpus", false, &r.corpus);
    if (s.ok() && root["replay"]) s = ParseCorpus(c, root["replay"], "replay", true, &r.replay);
    if (s.ok() && root["cpt"]) s = ParseCpt(c, root["cpt"], &r);
    if (s.ok() && !root["cpt"]) s = c.Error(root, "the recipe needs a 'cpt' section (at least steps and lr)");
  } else if (root["corpus"] || root["cpt"] || root["replay"]) {
    return c.Error(root, "'cpt_model' is given, so 'corpus', 'replay' and 'cpt' would be ignored: remove them "
                         "or remove cpt_model");
  }
  if (!s.ok()) return s;
  s = ParseMerge(c, root["merge"] ? root["merge"] : YAML::Node(YAML::NodeType::Map), &r);
  if (!s.ok()) return s;
  if (root["eval"]) {
    r.eval_enabled = true;
    s = ParseEval(c, root["eval"], &r.eval);
    if (!s.ok()) return s;
  }
  *out = std::move(r);
  return Status::Ok();
}

Status LoadRecipe(const std::string& path, Recipe* out) {
  std::ifstream in(path);
  if (!in) return Status::NotFound(path + ": cannot open the recipe");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseRecipe(ss.str(), path, out);
}

}  // namespace fm
