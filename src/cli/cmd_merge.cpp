// finmerge merge CONFIG.yaml -o OUT   (mergekit's YAML format)
// finmerge chat-vector --base B --instruct I --domain C [--weight W] -o OUT   (the paper's recipe)
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "base/progress.h"
#include "cli/command.h"
#include "gguf/gguf_input.h"
#include "merge/merge_config.h"
#include "merge/merge_runner.h"

namespace {

struct CommonFlags {
  std::string out;
  std::string max_shard = "5000000000";
  bool allow_nonfinite = false;
  bool quiet = false;
};

void AddCommon(CLI::App& sub, CommonFlags* f) {
  sub.add_option("-o,--out", f->out, "Output model folder (written atomically)")->required();
  sub.add_option("--max-shard-size", f->max_shard, "Largest shard in bytes (suffixes KB, MB, GB accepted)")
      ->capture_default_str();
  sub.add_flag("--allow-nonfinite", f->allow_nonfinite, "Write even if a merged tensor has NaN/Inf (reported)");
  sub.add_flag("-q,--quiet", f->quiet, "No progress bar");
}

fm::Status ParseSize(const std::string& s, uint64_t* out) {
  size_t used = 0;
  double v;
  try {
    v = std::stod(s, &used);
  } catch (const std::exception&) {
    return fm::Status::InvalidArgument("--max-shard-size '" + s + "' is not a size (e.g. 5000000000 or 5GB)");
  }
  std::string suffix = s.substr(used);
  double mult = 1;
  if (suffix == "KB") mult = 1e3;
  else if (suffix == "MB") mult = 1e6;
  else if (suffix == "GB") mult = 1e9;
  else if (suffix == "KiB") mult = 1024.0;
  else if (suffix == "MiB") mult = 1024.0 * 1024;
  else if (suffix == "GiB") mult = 1024.0 * 1024 * 1024;
  else if (!suffix.empty() && suffix != "B") return fm::Status::InvalidArgument("--max-shard-size: unknown unit '" + suffix + "'");
  if (v <= 0) return fm::Status::InvalidArgument("--max-shard-size must be positive");
  *out = static_cast<uint64_t>(v * mult);
  return fm::Status::Ok();
}

// GGUF files given as models become temporary Hugging Face folders (src/gguf/gguf_input.h), each imported
// once however often it is named; `keep` owns them until the merge is done.
using GgufTemps = std::vector<std::unique_ptr<fm::gguf::TemporaryModelFolder>>;
// `names` maps each temporary folder back to its GGUF file, so the model card and messages show the file.
fm::Status ResolveGgufInputs(fm::MergeConfig* cfg, std::string* config_source, GgufTemps* keep,
                             std::map<std::string, std::string>* names) {
  std::map<std::string, std::string> done;
  auto resolve = [&](std::string* path) -> fm::Status {
    if (path->empty()) return fm::Status::Ok();
    auto it = done.find(*path);
    if (it == done.end()) {
      std::unique_ptr<fm::gguf::TemporaryModelFolder> temp;
      std::string folder;
      FM_RETURN_IF_ERROR(fm::gguf::ResolveModelInput(*path, &folder, &temp));
      if (temp) {
        keep->push_back(std::move(temp));
        (*names)[folder] = *path;
      }
      it = done.emplace(*path, folder).first;
    }
    *path = it->second;
    return fm::Status::Ok();
  };
  FM_RETURN_IF_ERROR(resolve(&cfg->base_model));
  for (auto& m : cfg->models) FM_RETURN_IF_ERROR(resolve(&m.path));
  FM_RETURN_IF_ERROR(resolve(&cfg->tokenizer_source));
  if (config_source) FM_RETURN_IF_ERROR(resolve(config_source));
  return fm::Status::Ok();
}

int Finish(const fm::Status& s, const fm::MergeSummary& sum, const std::string& out) {
  if (!s.ok()) return fm::cli::ReportError(s);
  for (const std::string& n : sum.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  char params[32];
  if (sum.parameters >= 100000000ull) std::snprintf(params, sizeof params, "%.2fB", sum.parameters / 1e9);
  else if (sum.parameters >= 100000ull) std::snprintf(params, sizeof params, "%.1fM", sum.parameters / 1e6);
  else std::snprintf(params, sizeof params, "%llu", static_cast<unsigned long long>(sum.parameters));
  std::printf("merged %zu tensors (%s parameters) into %s: %s in %.2f s (%s/s written)\n", sum.tensors, params, out.c_str(), fm::HumanBytes(static_cast<double>(sum.bytes_written)).c_str(),
              sum.seconds, fm::HumanBytes(sum.bytes_written / std::max(sum.seconds, 1e-9)).c_str());
  return 0;
}

int RunMergeCommand(const std::string& config_path, const CommonFlags& f) {
  fm::MergeConfig cfg;
  fm::Status s = fm::LoadMergeConfig(config_path, &cfg);
  if (!s.ok()) return fm::cli::ReportError(s);
  fm::MergeOptions opts;
  s = ParseSize(f.max_shard, &opts.max_shard_bytes);
  if (!s.ok()) return fm::cli::ReportError(s);
  opts.allow_nonfinite = f.allow_nonfinite;
  opts.quiet = f.quiet;
  std::ifstream in(config_path);
  std::stringstream ss;
  ss << in.rdbuf();
  opts.recipe_yaml = ss.str();  // the exact recipe as given
  GgufTemps temps;
  s = ResolveGgufInputs(&cfg, nullptr, &temps, &opts.input_names);
  if (!s.ok()) return fm::cli::ReportError(s);
  fm::MergeSummary sum;
  s = fm::RunMerge(cfg, f.out, opts, &sum);
  return Finish(s, sum, f.out);
}

struct ChatVectorFlags {
  std::string base, instruct, domain;
  double weight = 1.0;
  std::string config_from, tokenizer_from, chat_template, dtype;
};

int RunChatVector(const ChatVectorFlags& cv, const CommonFlags& f) {
  // The paper's merge, C + w*(I - B), is task arithmetic with base B and models C (weight 1), I (weight w).
  fm::MergeConfig cfg;
  cfg.method = "task_arithmetic";
  cfg.source_file = "chat-vector";
  cfg.base_model = cv.base;
  fm::ParamSetting one, w;
  one.number = 1.0;
  w.number = cv.weight;
  cfg.models.push_back({cv.domain, {{"weight", one}}});
  cfg.models.push_back({cv.instruct, {{"weight", w}}});
  cfg.tokenizer_source = cv.tokenizer_from.empty() ? cv.instruct : cv.tokenizer_from;
  cfg.chat_template = cv.chat_template;
  if (cv.base == cv.domain || cv.base == cv.instruct) {
    return fm::cli::ReportError(fm::Status::InvalidArgument("chat-vector: --base must differ from --domain and --instruct"));
  }
  if (!cv.dtype.empty()) {
    fm::DType t;
    if (!fm::ParseDType(cv.dtype, &t) || !(t == fm::DType::kF32 || t == fm::DType::kF16 || t == fm::DType::kBF16)) {
      return fm::cli::ReportError(fm::Status::InvalidArgument("--dtype '" + cv.dtype + "' is not one of float32, float16, bfloat16"));
    }
    cfg.out_dtype = t;
  }
  fm::MergeOptions opts;
  fm::Status s = ParseSize(f.max_shard, &opts.max_shard_bytes);
  if (!s.ok()) return fm::cli::ReportError(s);
  opts.allow_nonfinite = f.allow_nonfinite;
  opts.quiet = f.quiet;
  opts.config_source = cv.config_from.empty() ? cv.domain : cv.config_from;
  char wbuf[64];
  std::snprintf(wbuf, sizeof wbuf, "%g", cv.weight);
  opts.recipe_yaml = "# finmerge chat-vector: domain + " + std::string(wbuf) +
                     " * (instruct - base)  (Hirano & Imajo 2024), as a mergekit task_arithmetic config\n" +
                     fm::MergeConfigToYaml(cfg);
  opts.card_summary = "An instruction-following domain model made without instruction data: the continually "
                      "pretrained model `" + cv.domain + "` plus " + wbuf + " x the instruction vector (`" + cv.instruct +
                      "` - `" + cv.base + "`), the chat-vector merge of Hirano & Imajo (2024).";
  GgufTemps temps;
  s = ResolveGgufInputs(&cfg, &opts.config_source, &temps, &opts.input_names);
  if (!s.ok()) return fm::cli::ReportError(s);
  fm::MergeSummary sum;
  s = fm::RunMerge(cfg, f.out, opts, &sum);
  return Finish(s, sum, f.out);
}

FM_REGISTER_COMMAND("merge", "Merge models with a mergekit YAML config (task_arithmetic, ties, dare_*, slerp, ...)",
                    [](CLI::App& sub) -> std::function<int()> {
                      auto config = std::make_shared<std::string>();
                      auto f = std::make_shared<CommonFlags>();
                      sub.add_option("config", *config, "mergekit-style YAML recipe")->required();
                      AddCommon(sub, f.get());
                      return [config, f] { return RunMergeCommand(*config, *f); };
                    });

FM_REGISTER_COMMAND("chat-vector",
                    "The paper's merge: DOMAIN + W * (INSTRUCT - BASE), an instruct model for the domain",
                    [](CLI::App& sub) -> std::function<int()> {
                      auto cv = std::make_shared<ChatVectorFlags>();
                      auto f = std::make_shared<CommonFlags>();
                      sub.add_option("--base", cv->base, "The public base model")->required();
                      sub.add_option("--instruct", cv->instruct, "The instruct model of the same base")->required();
                      sub.add_option("--domain", cv->domain, "The continually pretrained (domain) model")->required();
                      sub.add_option("--weight", cv->weight, "Weight W of the instruction vector")->capture_default_str();
                      sub.add_option("--config-from", cv->config_from, "Take config.json from this model (default: --domain)");
                      sub.add_option("--tokenizer-from", cv->tokenizer_from,
                                     "Take tokenizer, chat template, generation config from this model (default: --instruct)");
                      sub.add_option("--chat-template", cv->chat_template,
                                     "Override the chat template: chatml, llama3, alpaca, alpaca-ja or a Jinja string");
                      sub.add_option("--dtype", cv->dtype, "Output dtype (default: the domain model's)");
                      AddCommon(sub, f.get());
                      return [cv, f] { return RunChatVector(*cv, *f); };
                    });

}  // namespace
