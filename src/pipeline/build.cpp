#include "pipeline/build.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include <yaml-cpp/yaml.h>

#include "gguf/gguf_input.h"
#include "merge/merge_config.h"
#include "merge/merge_runner.h"
#include "merge/task_vector_analysis.h"
#include "pipeline/build_stages.h"
#include "pipeline/run_folder.h"
#include "tokenizer/corpus_sharder.h"
#include "tokenizer/tokenizer.h"
#include "train/distributed.h"

namespace fm {

namespace fs = std::filesystem;

namespace {

// Files of the corpus paths: a file as given, a folder's .txt/.jsonl/.json files (recursively, sorted).
Status ExpandCorpus(const std::vector<std::string>& paths, std::vector<std::string>* files) {
  for (const std::string& p : paths) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) {
      files->push_back(p);
    } else if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec)) {
        const std::string ext = it->path().extension().string();
        if (it->is_regular_file() && (ext == ".txt" || ext == ".jsonl" || ext == ".md")) {
          found.push_back(it->path().string());
        }
      }
      if (found.empty()) return Status::NotFound(p + ": the folder has no .txt, .md or .jsonl files");
      std::sort(found.begin(), found.end());
      files->insert(files->end(), found.begin(), found.end());
    } else {
      return Status::NotFound(p + ": no such corpus file or folder");
    }
  }
  return Status::Ok();
}

Status FingerprintAll(const std::vector<std::string>& paths, std::vector<std::string>* parts) {
  for (const std::string& p : paths) {
    std::string f;
    Status s = FingerprintPath(p, &f);
    if (!s.ok()) return s;
    parts->push_back(p + "=" + f);
  }
  return Status::Ok();
}

std::string CorpusSettings(const RecipeCorpus& c) {
  return nlohmann::json{{"blank_line_docs", c.blank_line_docs}, {"val_fraction", c.val_fraction}}.dump();
}

// The merge YAML with the placeholders base/instruct/cpt replaced by the stages' model folders.
Status MergeConfigFor(const Recipe& r, const std::string& cpt_model, MergeConfig* cfg) {
  YAML::Node m = YAML::Load(r.merge_yaml);
  auto resolve = [&](const std::string& name) {
    if (name == "base") return r.base;
    if (name == "instruct") return r.instruct;
    if (name == "cpt") return cpt_model;
    return name;
  };
  if (m["base_model"]) m["base_model"] = resolve(m["base_model"].as<std::string>());
  if (m["tokenizer_source"]) m["tokenizer_source"] = resolve(m["tokenizer_source"].as<std::string>());
  if (m["models"]) {
    for (auto e : m["models"]) {
      if (e["model"]) e["model"] = resolve(e["model"].as<std::string>());
    }
  }
  YAML::Emitter out;
  out << m;
  Status s = ParseMergeConfig(out.c_str(), r.file + " (merge)", cfg);
  if (!s.ok()) return s;
  const MergeMethod* method = nullptr;
  return ValidateMergeConfig(*cfg, &method);
}

void Say(const BuildOptions& o, const StageResult& r) {
  if (o.quiet) return;
  if (r.skipped) {
    std::fprintf(stderr, "[build] %-9s up to date (%.1f s when it ran)  %s\n", r.name.c_str(), r.seconds,
                 r.dir.c_str());
  } else {
    std::fprintf(stderr, "[build] %-9s done in %.1f s%s  %s\n", r.name.c_str(), r.seconds,
                 r.resumed ? " (resumed)" : "", r.dir.c_str());
  }
}

// Rank 0 runs `name` in the run folder; other ranks wait and get its status.
Status RootStage(Distributed& d, RunFolder* run, const std::string& name, const std::string& fp,
                 const RunFolder::StageFn& fn, const BuildOptions& o) {
  Status s;
  if (d.is_root()) {
    StageResult r;
    s = run->Run(name, fp, fn, &r);
    if (s.ok()) Say(o, r);
  }
  return d.world_size() > 1 ? d.BroadcastStatus(s) : s;
}

}  // namespace

namespace {

// The build on model folders; `originals` maps the temporary folders of GGUF inputs back to the files, whose
// fingerprints (not the fresh import's) decide what is redone.
Status RunBuildOnFolders(const Recipe& recipe, const std::map<std::string, std::string>& originals,
                         const BuildOptions& opts, BuildSummary* summary) {
  auto fingerprint = [&](const std::string& path, std::string* fp) {
    auto it = originals.find(path);
    return FingerprintPath(it == originals.end() ? path : it->second, fp);
  };
  const auto t0 = std::chrono::steady_clock::now();
  Distributed& dist = Distributed::Get();
  if (!dist.init_status().ok()) return dist.init_status();
  RunFolder run;
  Status s = RunFolder::Open(recipe.run_dir, &run);
  if (!s.ok()) return s;
  const std::string salt = opts.force ? std::to_string(std::chrono::system_clock::now().time_since_epoch().count())
                                      : std::string();

  // Check the merge section before hours of CPT (model placeholders stand in for the CPT output).
  {
    MergeConfig probe;
    s = MergeConfigFor(recipe, recipe.cpt_model.empty() ? recipe.base : recipe.cpt_model, &probe);
    if (!s.ok()) return s;
  }
  std::string base_fp, instruct_fp;
  s = fingerprint(recipe.base, &base_fp);
  if (s.ok()) s = fingerprint(recipe.instruct, &instruct_fp);
  if (!s.ok()) return s;

  // --- tokenize / replay / cpt --------------------------------------------------------------------------
  std::string cpt_model = recipe.cpt_model, cpt_fp;
  if (cpt_model.empty()) {
    std::string tok_fp;
    s = fingerprint(recipe.tokenizer, &tok_fp);
    if (!s.ok()) return s;
    auto shard_stage = [&](const std::string& name, const RecipeCorpus& corpus, std::string* fp) -> Status {
      std::vector<std::string> files;
      Status st = ExpandCorpus(corpus.paths, &files);
      std::vector<std::string> parts = {"tokenize/1", salt, tok_fp, CorpusSettings(corpus),
                                        std::to_string(recipe.cpt.seed)};
      if (st.ok()) st = FingerprintAll(files, &parts);
      if (!st.ok()) return st;
      *fp = CombineFingerprints(parts);
      return RootStage(
          dist, &run, name, *fp,
          [&](const std::string& dir, bool, nlohmann::json* out) {
            std::unique_ptr<Tokenizer> tok;
            Status t = Tokenizer::Load(recipe.tokenizer, &tok);
            if (!t.ok()) return t;
            ShardOptions so;
            so.inputs = files;
            so.output_dir = dir + "/shards";
            so.tokenizer_path = recipe.tokenizer;
            so.val_fraction = corpus.val_fraction;
            so.blank_line_docs = corpus.blank_line_docs;
            so.seed = recipe.cpt.seed;
            so.progress = !opts.quiet;
            ShardSummary sum;
            t = ShardCorpus(*tok, so, &sum);
            if (!t.ok()) return t;
            (*out)["train_tokens"] = sum.train_tokens;
            (*out)["val_tokens"] = sum.val_tokens;
            (*out)["documents"] = sum.train_docs + sum.val_docs;
            (*out)["input_bytes"] = sum.input_bytes;
            return Status::Ok();
          },
          opts);
    };
    std::string data_fp, replay_fp;
    s = shard_stage("tokenize", recipe.corpus, &data_fp);
    if (!s.ok()) return s;
    if (!recipe.replay.paths.empty()) {
      s = shard_stage("replay", recipe.replay, &replay_fp);
      if (!s.ok()) return s;
    }

    TrainOptions t = recipe.cpt;
    t.task = TrainTask::kCpt;
    t.model = recipe.base;
    t.data = recipe.run_dir + "/tokenize/shards";
    if (!recipe.replay.paths.empty()) {
      char frac[32];
      std::snprintf(frac, sizeof frac, "%g", recipe.replay.fraction);
      t.replay = recipe.run_dir + "/replay/shards:" + frac;
    }
    t.verbose = !opts.quiet;
    nlohmann::json settings = recipe.raw.contains("cpt") ? nlohmann::json(recipe.raw["cpt"]) : nlohmann::json();
    settings["replay_fraction"] = recipe.replay.fraction;
    cpt_fp = CombineFingerprints({"cpt/1", salt, base_fp, data_fp, replay_fp, settings.dump()});
    // The CPT stage is collective: rank 0 decides (skip, resume) inside RunFolder and tells the other ranks,
    // which then train alongside it. Broadcast values: 0 = skipped, 1 = fresh, 2 = resumed, -1 = failed.
    auto train = [&](const std::string& dir, bool resuming, nlohmann::json* out) -> Status {
      TrainOptions o = t;
      o.out = dir + "/model";
      if (resuming && fs::exists(o.out + "/trainer_state")) o.resume = o.out;
      TrainSummary ts;
      Status st = RunTraining(o, &ts);
      if (!st.ok()) return st;
      if (out) {
        (*out)["steps"] = ts.last_step;
        (*out)["first_loss"] = ts.first_loss;
        (*out)["last_loss"] = ts.last_loss;
        (*out)["val_loss"] = ts.val_loss;
        (*out)["tokens"] = ts.tokens;
        (*out)["world_size"] = ts.world_size;
        (*out)["resumed_from_step"] = ts.first_step;
      }
      return Status::Ok();
    };
    if (dist.is_root()) {
      bool ran = false;
      StageResult r;
      s = run.Run("cpt", cpt_fp,
                  [&](const std::string& dir, bool resuming, nlohmann::json* out) {
                    ran = true;
                    if (dist.world_size() > 1) {
                      int64_t mode = resuming ? 2 : 1;
                      dist.AllReduceSum(&mode, 1);
                    }
                    return train(dir, resuming, out);
                  },
                  &r);
      if (!ran && dist.world_size() > 1) {
        int64_t mode = s.ok() ? 0 : -1;
        dist.AllReduceSum(&mode, 1);
      }
      if (s.ok()) Say(opts, r);
    } else {
      int64_t mode = 0;
      dist.AllReduceSum(&mode, 1);
      if (mode > 0) s = train(recipe.run_dir + "/cpt.partial", mode == 2, nullptr);
      if (mode < 0) s = Status::Internal("rank 0 failed before the cpt stage");
    }
    if (dist.world_size() > 1) s = dist.BroadcastStatus(s);
    if (!s.ok()) return s;
    cpt_model = recipe.run_dir + "/cpt/model";
  } else {
    s = fingerprint(cpt_model, &cpt_fp);
    if (!s.ok()) return s;
  }
  // Only rank 0 goes on: merging, evaluating and reporting need no other process.
  if (!dist.is_root()) return Status::Ok();

  // --- merge --------------------------------------------------------------------------------------------
  const std::string merge_fp = CombineFingerprints({"merge/1", salt, base_fp, instruct_fp, cpt_fp, recipe.merge_yaml});
  StageResult mr;
  s = run.Run(
      "merge", merge_fp,
      [&](const std::string& dir, bool, nlohmann::json* out) {
        MergeConfig cfg;
        Status m = MergeConfigFor(recipe, cpt_model, &cfg);
        if (!m.ok()) return m;
        MergeOptions mo;
        mo.quiet = opts.quiet;
        mo.config_source = cpt_model;
        mo.input_names = originals;
        mo.card_summary = "Built by `finmerge build " + recipe.file + "`: the continually pretrained model plus the "
                          "instruction vector (instruct - base), after Hirano & Imajo (2024).";
        MergeSummary ms;
        m = RunMerge(cfg, dir + "/model", mo, &ms);
        if (!m.ok()) return m;
        (*out)["method"] = cfg.method;
        (*out)["tensors"] = ms.tensors;
        (*out)["parameters"] = ms.parameters;
        return Status::Ok();
      },
      &mr);
  if (!s.ok()) return s;
  Say(opts, mr);
  const std::string merged = recipe.run_dir + "/merge/model";
  std::string merged_fp = CombineFingerprints({merge_fp, "model"});

  // --- analyze ------------------------------------------------------------------------------------------
  if (recipe.analyze) {
    StageResult ar;
    s = run.Run(
        "analyze", CombineFingerprints({"analyze/1", salt, base_fp, instruct_fp, cpt_fp}),
        [&](const std::string& dir, bool, nlohmann::json* out) {
          TaskVectorAnalysis a;
          Status st = AnalyzeTaskVectors(recipe.base, {recipe.instruct, cpt_model}, {"instruct", "cpt"}, &a);
          if (!st.ok()) return st;
          std::ofstream j(dir + "/analysis.json");
          j << AnalysisToJson(a).dump(2) << "\n";
          std::ofstream txt(dir + "/analysis.txt");
          txt << AnalysisToText(a);
          if (!j || !txt) return Status::IOError(dir + ": cannot write the analysis");
          (*out)["cosine_instruct_cpt"] = a.overall.Cosine(0, 1);
          (*out)["norm_instruct"] = a.overall.Norm(0);
          (*out)["norm_cpt"] = a.overall.Norm(1);
          return Status::Ok();
        },
        &ar);
    if (!s.ok()) return s;
    Say(opts, ar);
    if (!opts.quiet) {
      std::fprintf(stderr, "[build] task vectors: cosine(instruct - base, cpt - base) = %.4f\n",
                   ar.outputs.value("cosine_instruct_cpt", 0.0));
    }
  }

  // --- eval and report ----------------------------------------------------------------------------------
  BuildStageInputs in{&recipe, &run, &opts, base_fp, instruct_fp, cpt_fp, merged_fp, cpt_model, merged, salt};
  if (recipe.eval_enabled) {
    s = RunEvalStage(in);
    if (!s.ok()) return s;
  }
  std::string report;
  if (recipe.report) {
    s = RunReportStage(in, &report);
    if (!s.ok()) return s;
  }
  if (summary) {
    summary->run_dir = recipe.run_dir;
    summary->merged_model = merged;
    summary->report = report;
    summary->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return Status::Ok();
}

}  // namespace

Status RunBuild(const Recipe& recipe, const BuildOptions& opts, BuildSummary* summary) {
  // GGUF files named as base, instruct or CPT model (or tokenizer source) are imported into temporary Hugging
  // Face folders for this run (each file once; under mpirun every rank imports its own).
  Recipe r = recipe;
  std::map<std::string, std::string> originals, imported;  // folder -> file, file -> folder
  std::vector<std::unique_ptr<gguf::TemporaryModelFolder>> temps;
  for (std::string* path : {&r.base, &r.instruct, &r.cpt_model, &r.tokenizer}) {
    if (path->empty() || !gguf::IsGgufFile(*path)) continue;
    auto it = imported.find(*path);
    if (it == imported.end()) {
      std::string folder;
      std::unique_ptr<gguf::TemporaryModelFolder> temp;
      Status s = gguf::ResolveModelInput(*path, &folder, &temp);
      if (!s.ok()) return s;
      temps.push_back(std::move(temp));
      originals[folder] = *path;
      it = imported.emplace(*path, folder).first;
    }
    *path = it->second;
  }
  return RunBuildOnFolders(r, originals, opts, summary);
}

}  // namespace fm
