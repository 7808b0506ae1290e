#include "pipeline/demo_run.h"

#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "base/output_path.h"
#include "merge/merge_config.h"
#include "merge/merge_runner.h"
#include "merge/task_vector_analysis.h"
#include "model/model.h"
#include "pipeline/demo_eval.h"
#include "pipeline/demo_tokenizer.h"
#include "pipeline/run_folder.h"
#include "report/report.h"
#include "tokenizer/corpus_sharder.h"
#include "chat/prompt_format.h"
#include "tokenizer/tokenizer.h"
#include "train/trainer.h"

namespace fm {
namespace {

namespace fs = std::filesystem;

// Bumped whenever the demo's code changes what a stage produces, so old run folders are redone.
constexpr const char* kDemoVersion = "demo-v1";
const char* const kModels[] = {"base", "instruct", "cpt", "merged"};

nlohmann::json PhaseJson(const DemoPhase& p) {
  return {{"epochs", p.epochs}, {"batch_size", p.batch_size},     {"lr", p.lr},
          {"min_lr", p.min_lr}, {"warmup_steps", p.warmup_steps}, {"weight_decay", p.weight_decay}};
}

nlohmann::json WorldJson(const DemoWorldOptions& w) {
  return {{"seed", w.seed},
          {"people", w.people},
          {"cities", w.cities},
          {"species", w.species},
          {"organizations", w.organizations},
          {"companies", w.companies},
          {"general_docs_per_entity", w.general_docs_per_entity},
          {"finance_docs_per_company", w.finance_docs_per_company},
          {"sft_share", w.sft_share},
          {"sft_questions_per_fact", w.sft_questions_per_fact},
          {"simple_tasks", w.simple_tasks},
          {"heldout_simple_tasks", w.heldout_simple_tasks}};
}

nlohmann::json ArchJson(const DemoConfig& c) {
  return {{"vocab_size", c.vocab_size},     {"hidden", c.hidden},  {"layers", c.layers}, {"heads", c.heads},
          {"intermediate", c.intermediate}, {"seq_len", c.seq_len}};
}

Status WriteText(const std::string& path, const std::string& text) {
  OutputPath op(path, OutputPath::Kind::kFile);
  FM_RETURN_IF_ERROR(op.Begin());
  {
    std::ofstream f(op.temp_path(), std::ios::binary);
    f << text;
    if (!f.good()) return Status::IOError(path + ": write failed (disk full?)");
  }
  return op.Commit();
}

Status ReadJsonlTexts(const std::string& path, std::vector<std::string>* out) {
  std::ifstream f(path);
  if (!f) return Status::NotFound(path + ": cannot open");
  std::string line;
  for (int n = 1; std::getline(f, line); n++) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return Status::Corruption(path + ":" + std::to_string(n) + ": not JSON");
    if (j.contains("text")) {
      out->push_back(j["text"].get<std::string>());
    } else if (j.contains("messages")) {
      for (const auto& m : j["messages"]) out->push_back(m.at("content").get<std::string>());
    }
  }
  return Status::Ok();
}

Status CopyFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return Status::IOError(from + ": cannot copy to " + to + ": " + ec.message());
  return Status::Ok();
}

int StepsFor(const DemoPhase& p, int seq_len, double tokens) {
  return std::max(
      1, static_cast<int>(std::ceil(p.epochs * tokens / (static_cast<double>(p.batch_size) * seq_len))));
}

// Training options shared by the three training stages.
TrainOptions PhaseOptions(const DemoConfig& c, const DemoPhase& p, int steps, int threads, uint64_t seed) {
  TrainOptions o;
  o.steps = steps;
  o.seq_len = c.seq_len;
  o.batch_size = p.batch_size;
  o.grad_accum = 1;
  o.schedule.max_lr = p.lr;
  o.schedule.min_lr = p.min_lr;
  o.schedule.warmup_steps = std::min(p.warmup_steps, steps / 2);
  o.schedule.decay = LrDecay::kCosine;
  o.adamw.weight_decay = p.weight_decay;
  o.seed = seed;
  o.save_every = std::max(1, steps / 4);  // a killed run resumes from the last quarter
  o.eval_every = std::max(1, steps / 10);
  o.eval_batches = 2;
  o.precision = "fp32";  // measured faster than bf16 at these sizes (small GEMMs)
  o.threads = threads;
  return o;
}

// Runs training into work/model, resuming from a killed run's checkpoint there.
Status Train(TrainOptions o, const std::string& work, bool resuming, nlohmann::json* outputs) {
  o.out = work + "/model";
  std::error_code ec;
  if (resuming && fs::exists(o.out + "/trainer_state", ec)) {
    std::printf("  resuming from the checkpoint of an interrupted run\n");
    o.resume = o.out;
  }
  TrainSummary s;
  FM_RETURN_IF_ERROR(RunTraining(o, &s));
  std::printf("  %s\n", SummaryLine(o, s).c_str());
  (*outputs)["steps"] = s.last_step;
  (*outputs)["first_loss"] = s.first_loss;
  (*outputs)["last_loss"] = s.last_loss;
  (*outputs)["val_loss"] = s.val_loss;
  (*outputs)["tokens_per_second"] = s.seconds > 0 ? s.tokens / s.seconds : 0.0;
  return Status::Ok();
}

std::string Pad(const std::string& s, size_t n) {
  return s.size() >= n ? s : s + std::string(n - s.size(), ' ');
}

}  // namespace

Status DemoConfigForSize(const std::string& size, uint64_t seed, DemoConfig* out) {
  DemoConfig c;
  c.size = size;
  c.world.seed = seed;
  if (size == "default") {
    // Tuned (see docs/demo.md) so that an idle 2-core machine runs everything in under 10 minutes.
    c.world.people = 30;
    c.world.cities = 10;
    c.world.species = 10;
    c.world.organizations = 16;
    c.world.companies = 16;
    c.world.general_docs_per_entity = 6;
    c.world.finance_docs_per_company = 12;
    c.world.simple_tasks = 300;
    c.world.heldout_simple_tasks = 40;
    c.vocab_size = 1024;
    c.hidden = 128;
    c.layers = 4;
    c.heads = 4;
    c.intermediate = 384;
    c.seq_len = 128;
    c.pretrain = {35, 16, 2e-3f, 2e-4f, 20, 0.01f};
    c.sft = {8, 16, 1e-3f, 1e-4f, 5, 0.0f};
    c.cpt = {40, 16, 1e-3f, 1e-4f, 10, 0.01f};
    c.replay_fraction = 0.3;
  } else if (size == "tiny") {
    c.world.people = 6;
    c.world.cities = 3;
    c.world.species = 3;
    c.world.organizations = 3;
    c.world.companies = 4;
    c.world.general_docs_per_entity = 2;
    c.world.finance_docs_per_company = 2;
    c.world.sft_questions_per_fact = 1;
    c.world.simple_tasks = 20;
    c.world.heldout_simple_tasks = 4;
    c.vocab_size = 320;
    c.hidden = 32;
    c.layers = 1;
    c.heads = 2;
    c.intermediate = 64;
    c.seq_len = 64;
    c.pretrain = {1, 4, 1e-3f, 1e-4f, 1, 0.0f};
    c.sft = {1, 4, 1e-3f, 1e-4f, 1, 0.0f};
    c.cpt = {1, 4, 1e-3f, 1e-4f, 1, 0.0f};
    c.replay_fraction = 0.2;
  } else {
    return Status::InvalidArgument("demo: unknown size '" + size + "' (use default or tiny)");
  }
  *out = c;
  return Status::Ok();
}

nlohmann::json DemoConfigToJson(const DemoConfig& c) {
  return {{"version", kDemoVersion},           {"size", c.size},
          {"world", WorldJson(c.world)},       {"model", ArchJson(c)},
          {"pretrain", PhaseJson(c.pretrain)}, {"sft", PhaseJson(c.sft)},
          {"cpt", PhaseJson(c.cpt)},           {"replay_fraction", c.replay_fraction}};
}

Status RunDemo(const DemoOptions& opts, DemoSummary* summary) {
  const auto t_start = std::chrono::steady_clock::now();
  DemoConfig cfg;
  FM_RETURN_IF_ERROR(DemoConfigForSize(opts.size, opts.seed, &cfg));
  if (opts.threads > 0) omp_set_num_threads(opts.threads);
  RunFolder run;
  FM_RETURN_IF_ERROR(RunFolder::Open(opts.out, &run));
  const std::string root = run.root();
  auto dir = [&](const std::string& stage) { return (fs::path(root) / stage).string(); };
  const nlohmann::json cfg_json = DemoConfigToJson(cfg);
  FM_RETURN_IF_ERROR(WriteText(dir("settings.json"), cfg_json.dump(2) + "\n"));
  std::printf("demo: a tiny world from seed %llu in %s (%s size; %d threads)\n",
              static_cast<unsigned long long>(opts.seed), root.c_str(), cfg.size.c_str(),
              omp_get_max_threads());

  int stage_no = 0;
  const int n_stages = 9;
  // Runs one stage with a header line and a timing line.
  auto stage = [&](const std::string& name, const std::string& what, const std::string& fingerprint,
                   const RunFolder::StageFn& fn, StageResult* r) -> Status {
    std::printf("\ndemo [%d/%d] %s: %s\n", ++stage_no, n_stages, name.c_str(), what.c_str());
    std::fflush(stdout);
    FM_RETURN_IF_ERROR(run.Run(name, fingerprint, fn, r));
    if (r->skipped) {
      std::printf("  reused from an earlier run (took %.1f s then)\n", r->seconds);
    } else {
      std::printf("  done in %.1f s%s\n", r->seconds, r->resumed ? " (resumed)" : "");
    }
    std::fflush(stdout);
    return Status::Ok();
  };

  // 1. The world.
  StageResult world;
  const std::string world_fp = FingerprintString(std::string(kDemoVersion) + WorldJson(cfg.world).dump());
  FM_RETURN_IF_ERROR(stage(
      "world", "general corpus, instruction set (general facts only), finance corpus, evaluation sets",
      world_fp,
      [&](const std::string& work, bool, nlohmann::json* out) {
        DemoWorld w;
        FM_RETURN_IF_ERROR(GenerateDemoWorld(cfg.world, &w));
        FM_RETURN_IF_ERROR(WriteDemoWorld(w, work));
        *out = {{"general_facts", w.general_facts.size()}, {"finance_facts", w.finance_facts.size()},
                {"general_docs", w.general_docs.size()},   {"finance_docs", w.finance_docs.size()},
                {"sft_examples", w.sft_train.size()},      {"finance_mc", w.finance_mc.size()},
                {"general_chat", w.general_chat.size()},   {"finance_chat", w.finance_chat.size()}};
        std::printf(
            "  %zu general facts in %zu documents, %zu finance facts in %zu documents, %zu chat examples\n",
            w.general_facts.size(), w.general_docs.size(), w.finance_facts.size(), w.finance_docs.size(),
            w.sft_train.size());
        return Status::Ok();
      },
      &world));

  // 2. The tokenizer.
  StageResult tok_stage;
  const std::string tok_fp = CombineFingerprints({world_fp, "bpe", std::to_string(cfg.vocab_size)});
  FM_RETURN_IF_ERROR(stage(
      "tokenizer", "byte-level BPE trained on the world's text, ChatML chat format", tok_fp,
      [&](const std::string& work, bool, nlohmann::json* out) {
        std::vector<std::string> texts;
        for (const char* f : {"general.jsonl", "finance.jsonl", "sft_train.jsonl"}) {
          FM_RETURN_IF_ERROR(ReadJsonlTexts(dir("world") + "/" + f, &texts));
        }
        BpeTrainOptions bo;
        bo.vocab_size = cfg.vocab_size;
        nlohmann::ordered_json tj;
        BpeTrainSummary bs;
        FM_RETURN_IF_ERROR(TrainByteLevelBpe(texts, bo, &tj, &bs));
        FM_RETURN_IF_ERROR(
            WriteTokenizerFolder(tj, "<|im_end|>", "<|endoftext|>", NamedChatTemplate("chatml"), work));
        *out = {{"vocab_size", bs.vocab_size}, {"merges", bs.merges}, {"unique_words", bs.unique_words}};
        std::printf("  %d tokens (%zu merges over %zu distinct words)\n", bs.vocab_size, bs.merges,
                    bs.unique_words);
        return Status::Ok();
      },
      &tok_stage));

  // 3. Token shards (and the instruction set's size in tokens, which sets the SFT steps).
  StageResult shards;
  const std::string shards_fp = CombineFingerprints({tok_fp, "shards"});
  FM_RETURN_IF_ERROR(stage(
      "tokenize", "token shards of the general and the finance corpus", shards_fp,
      [&](const std::string& work, bool, nlohmann::json* out) {
        std::unique_ptr<Tokenizer> tok;
        FM_RETURN_IF_ERROR(Tokenizer::Load(dir("tokenizer"), &tok));
        const auto eos = tok->TokenToId("<|endoftext|>");
        if (!eos) return Status::Internal(dir("tokenizer") + ": <|endoftext|> missing");
        for (const char* corpus : {"general", "finance"}) {
          ShardOptions so;
          so.inputs = {dir("world") + "/" + corpus + ".jsonl"};
          so.output_dir = work + "/" + corpus;
          so.tokenizer_path = dir("tokenizer");
          so.val_fraction = 0.05;
          so.seed = cfg.world.seed;
          so.eos_id = *eos;
          so.progress = false;
          ShardSummary ss;
          FM_RETURN_IF_ERROR(ShardCorpus(*tok, so, &ss));
          (*out)[std::string(corpus) + "_train_tokens"] = ss.train_tokens;
          (*out)[std::string(corpus) + "_val_tokens"] = ss.val_tokens;
          std::printf("  %s: %llu train + %llu validation tokens\n", corpus,
                      static_cast<unsigned long long>(ss.train_tokens),
                      static_cast<unsigned long long>(ss.val_tokens));
        }
        ChatFormat format;
        FM_RETURN_IF_ERROR(ChatFormat::Load(dir("tokenizer"), "", &format));
        std::ifstream f(dir("world") + "/sft_train.jsonl");
        std::string line;
        uint64_t sft_tokens = 0;
        std::vector<uint32_t> ids;
        while (std::getline(f, line)) {
          std::vector<ChatMessage> msgs;
          FM_RETURN_IF_ERROR(ParseChatMessages(nlohmann::ordered_json::parse(line).at("messages"), &msgs));
          std::string text;
          FM_RETURN_IF_ERROR(RenderChat(format, msgs, false, &text));
          FM_RETURN_IF_ERROR(tok->Encode(text, false, &ids));
          sft_tokens += ids.size();
        }
        (*out)["sft_tokens"] = sft_tokens;
        std::printf("  instruction set: %llu tokens\n", static_cast<unsigned long long>(sft_tokens));
        return Status::Ok();
      },
      &shards));
  const double general_tokens = shards.outputs.value("general_train_tokens", 0.0);
  const double finance_tokens = shards.outputs.value("finance_train_tokens", 0.0);
  const double sft_tokens = shards.outputs.value("sft_tokens", 0.0);

  // 4. Base model: random init, pretraining on the general corpus.
  StageResult base;
  const std::string base_fp =
      CombineFingerprints({shards_fp, ArchJson(cfg).dump(), PhaseJson(cfg.pretrain).dump()});
  const int base_steps = StepsFor(cfg.pretrain, cfg.seq_len, general_tokens);
  FM_RETURN_IF_ERROR(stage(
      "base", "a tiny Llama from random weights, pretrained on the general corpus", base_fp,
      [&](const std::string& work, bool resuming, nlohmann::json* out) {
        std::unique_ptr<Tokenizer> tok;
        FM_RETURN_IF_ERROR(Tokenizer::Load(dir("tokenizer"), &tok));
        ArchConfig a;
        a.model_type = "llama";
        a.vocab_size = static_cast<int>((tok->vocab_size() + 63) / 64 * 64);
        a.hidden_size = cfg.hidden;
        a.intermediate_size = cfg.intermediate;
        a.num_layers = cfg.layers;
        a.num_heads = cfg.heads;
        a.num_kv_heads = cfg.heads;
        a.head_dim = cfg.hidden / cfg.heads;
        a.max_position = 2 * cfg.seq_len;
        a.rms_eps = 1e-5f;
        const std::string init = work + "/init";
        std::error_code ec;
        fs::create_directories(init, ec);
        if (ec) return Status::IOError(init + ": cannot create: " + ec.message());
        std::unique_ptr<Model> model;
        FM_RETURN_IF_ERROR(Model::Random(a, cfg.world.seed, &model));
        FM_RETURN_IF_ERROR(model->SaveWeights(init));
        for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
          FM_RETURN_IF_ERROR(CopyFile(dir("tokenizer") + "/" + f, init + "/" + f));
        }
        std::printf(
            "  %.2fM parameters (vocab %d, hidden %d, %d layers, %d heads, MLP %d), %d steps of %d x %d "
            "tokens\n",
            model->num_parameters() / 1e6, a.vocab_size, a.hidden_size, a.num_layers, a.num_heads,
            a.intermediate_size, base_steps, cfg.pretrain.batch_size, cfg.seq_len);
        TrainOptions o = PhaseOptions(cfg, cfg.pretrain, base_steps, opts.threads, cfg.world.seed);
        o.task = TrainTask::kCpt;
        o.model = init;
        o.data = dir("tokenize") + "/general";
        FM_RETURN_IF_ERROR(Train(o, work, resuming, out));
        (*out)["parameters"] = model->num_parameters();
        RemoveAll(init);
        return Status::Ok();
      },
      &base));

  // 5. Instruct model: SFT on the general instruction set.
  StageResult instruct;
  const std::string inst_fp = CombineFingerprints({base_fp, world_fp, PhaseJson(cfg.sft).dump()});
  FM_RETURN_IF_ERROR(stage(
      "instruct", "the base model fine-tuned on the instruction set (general facts, simple tasks)", inst_fp,
      [&](const std::string& work, bool resuming, nlohmann::json* out) {
        TrainOptions o = PhaseOptions(cfg, cfg.sft, StepsFor(cfg.sft, cfg.seq_len, sft_tokens), opts.threads,
                                      cfg.world.seed + 1);
        o.task = TrainTask::kSft;
        o.model = dir("base") + "/model";
        o.data = dir("world") + "/sft_train.jsonl";
        o.val_data = dir("world") + "/sft_val.jsonl";
        return Train(o, work, resuming, out);
      },
      &instruct));

  // 6. CPT model: continual pretraining on the finance corpus.
  StageResult cpt;
  const std::string cpt_fp = CombineFingerprints(
      {base_fp, shards_fp, PhaseJson(cfg.cpt).dump(), std::to_string(cfg.replay_fraction)});
  FM_RETURN_IF_ERROR(stage(
      "cpt", "the base model trained further on the finance corpus (no instruction data)", cpt_fp,
      [&](const std::string& work, bool resuming, nlohmann::json* out) {
        TrainOptions o = PhaseOptions(cfg, cfg.cpt, StepsFor(cfg.cpt, cfg.seq_len, finance_tokens),
                                      opts.threads, cfg.world.seed + 2);
        o.task = TrainTask::kCpt;
        o.model = dir("base") + "/model";
        o.data = dir("tokenize") + "/finance";
        if (cfg.replay_fraction > 0) {
          char frac[32];
          std::snprintf(frac, sizeof(frac), "%g", cfg.replay_fraction);
          o.replay = dir("tokenize") + "/general:" + frac;
        }
        return Train(o, work, resuming, out);
      },
      &cpt));

  // 7. The chat vector.
  StageResult merged;
  const std::string merged_fp = CombineFingerprints({inst_fp, cpt_fp, "chat-vector 1.0"});
  FM_RETURN_IF_ERROR(stage(
      "merged", "chat vector: cpt + 1.0 * (instruct - base)", merged_fp,
      [&](const std::string& work, bool, nlohmann::json* out) {
        MergeConfig mc;
        mc.method = "task_arithmetic";
        mc.source_file = "demo";
        mc.base_model = dir("base") + "/model";
        ParamSetting one;
        one.number = 1.0;
        mc.models.push_back({dir("cpt") + "/model", {{"weight", one}}});
        mc.models.push_back({dir("instruct") + "/model", {{"weight", one}}});
        mc.tokenizer_source = dir("instruct") + "/model";
        MergeOptions mo;
        mo.config_source = dir("cpt") + "/model";
        mo.quiet = true;
        mo.card_summary = "The finmerge demo's merged model: the finance CPT model plus the chat vector.";
        MergeSummary ms;
        FM_RETURN_IF_ERROR(RunMerge(mc, work + "/model", mo, &ms));
        *out = {{"tensors", ms.tensors}, {"parameters", ms.parameters}};
        return Status::Ok();
      },
      &merged));

  // 8. Task-vector analysis.
  StageResult analysis;
  FM_RETURN_IF_ERROR(stage(
      "analysis", "task vectors of instruct, cpt and merged against base",
      CombineFingerprints({merged_fp, "analysis"}),
      [&](const std::string& work, bool, nlohmann::json* out) {
        TaskVectorAnalysis a;
        FM_RETURN_IF_ERROR(
            AnalyzeTaskVectors(dir("base") + "/model",
                               {dir("instruct") + "/model", dir("cpt") + "/model", dir("merged") + "/model"},
                               {"instruct", "cpt", "merged"}, &a));
        FM_RETURN_IF_ERROR(WriteText(work + "/analysis.json", AnalysisToJson(a).dump(1) + "\n"));
        FM_RETURN_IF_ERROR(WriteText(work + "/analysis.txt", AnalysisToText(a)));
        *out = {{"cosine_instruct_cpt", a.overall.Cosine(0, 1)},
                {"norm_instruct", a.overall.Norm(0)},
                {"norm_cpt", a.overall.Norm(1)}};
        std::printf("  cosine(instruct - base, cpt - base) = %.4f; norms %.3f and %.3f\n",
                    a.overall.Cosine(0, 1), a.overall.Norm(0), a.overall.Norm(1));
        return Status::Ok();
      },
      &analysis));

  // 9. Evaluation of the four models.
  StageResult eval;
  FM_RETURN_IF_ERROR(stage(
      "eval", "finance multiple choice, general chat, finance chat for base, instruct, cpt, merged",
      CombineFingerprints({merged_fp, world_fp, "eval-v1"}),
      [&](const std::string& work, bool, nlohmann::json* out) {
        DemoEvalSets sets;
        FM_RETURN_IF_ERROR(
            ReadDemoEvalSets(dir("world"), &sets.finance_mc, &sets.general_chat, &sets.finance_chat));
        for (const char* m : kModels) {
          const auto t0 = std::chrono::steady_clock::now();
          DemoModelEval e;
          FM_RETURN_IF_ERROR(EvaluateDemoModel(dir(m) + "/model", sets, &e).WithPrefix(m));
          FM_RETURN_IF_ERROR(WriteText(work + "/" + m + ".json", e.details.dump(1) + "\n"));
          (*out)[m] = e.metrics;
          std::printf("  %-8s %s %.3f (%.1f s)\n", m, kDemoPrimaryMetric, e.metrics[kDemoPrimaryMetric],
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
          std::fflush(stdout);
        }
        return Status::Ok();
      },
      &eval));

  // results.json
  nlohmann::json results;
  results["primary_metric"] = kDemoPrimaryMetric;
  results["models"] = nlohmann::json::object();
  for (const char* m : kModels) results["models"][m] = eval.outputs.at(m);
  results["task_vector_cosine"] = analysis.outputs.value("cosine_instruct_cpt", 0.0);
  nlohmann::json stage_seconds = nlohmann::json::object();
  for (const StageResult& r : run.results()) {
    stage_seconds[r.name] = r.seconds;
    (r.skipped ? summary->stages_skipped : summary->stages_run)++;
  }
  results["stage_seconds"] = stage_seconds;
  FM_RETURN_IF_ERROR(WriteText(dir("results.json"), results.dump(2) + "\n"));

  // The table and the verdict.
  const char* metrics[] = {"finance_mc_accuracy", "general_chat_format", kDemoPrimaryMetric};
  std::printf("\n%s  %-22s %-22s %-22s\n", Pad("model", 9).c_str(), "(1) finance MC",
              "(2) general chat format", "(3) finance chat");
  for (const char* m : kModels) {
    std::printf("%s", Pad(m, 9).c_str());
    for (const char* k : metrics) std::printf("  %-21.3f", results["models"][m][k].get<double>());
    std::printf("\n");
  }
  std::printf("(3) = %s: the reply is \"Answer: VALUE.\", ends its turn, and VALUE is right\n",
              kDemoPrimaryMetric);
  std::printf("task-vector cosine(instruct - base, cpt - base) = %.4f\n",
              results["task_vector_cosine"].get<double>());

  // A few finance questions side by side.
  {
    DemoEvalSets sets;
    FM_RETURN_IF_ERROR(
        ReadDemoEvalSets(dir("world"), &sets.finance_mc, &sets.general_chat, &sets.finance_chat));
    std::vector<nlohmann::json> details;
    for (const char* m : kModels) {
      std::ifstream f(dir("eval") + "/" + m + ".json");
      details.push_back(nlohmann::json::parse(f, nullptr, false));
    }
    std::printf("\nsample finance questions (never seen in chat form by any model):\n");
    for (size_t q = 0; q < sets.finance_chat.size() && q < 3; q++) {
      std::printf("  Q: %s  (true: %s)\n", sets.finance_chat[q].question.c_str(),
                  sets.finance_chat[q].answer.c_str());
      for (size_t i = 0; i < details.size(); i++) {
        std::string reply = "?";
        if (details[i].is_object() && details[i]["finance_chat"].size() > q) {
          reply = details[i]["finance_chat"][q].value("reply", "");
          if (reply.size() > 60) reply = reply.substr(0, 60) + "...";
          for (char& ch : reply) {
            if (ch == '\n') ch = ' ';
          }
        }
        std::printf("    %-8s %s\n", kModels[i], reply.c_str());
      }
    }
  }

  // report.html
  ReportInputs ri;
  ri.title = "finmerge demo";
  ri.loss_curves = {{"Base pretraining", dir("base") + "/model/metrics.jsonl"},
                    {"SFT (instruct)", dir("instruct") + "/model/metrics.jsonl"},
                    {"CPT (finance)", dir("cpt") + "/model/metrics.jsonl"}};
  ri.analysis_json = dir("analysis") + "/analysis.json";
  ri.results_json = dir("results.json");
  ri.settings_json = dir("settings.json");
  FM_RETURN_IF_ERROR(WriteReport(ri, dir("report.html")));

  const double merged_score = results["models"]["merged"][kDemoPrimaryMetric].get<double>();
  const double inst_score = results["models"]["instruct"][kDemoPrimaryMetric].get<double>();
  const double cpt_score = results["models"]["cpt"][kDemoPrimaryMetric].get<double>();
  summary->merged_beats_both = merged_score > inst_score && merged_score > cpt_score;
  summary->results = results;
  summary->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  std::printf("\ndemo: wrote %s/results.json and %s/report.html (%d stages run, %d reused) in %.1f s\n",
              root.c_str(), root.c_str(), summary->stages_run, summary->stages_skipped, summary->seconds);
  std::printf(
      "demo: the merged model %s both parents on finance questions in chat form (%s %.3f vs instruct %.3f, "
      "cpt %.3f)\n",
      summary->merged_beats_both ? "BEATS" : "does NOT beat", kDemoPrimaryMetric, merged_score, inst_score,
      cpt_score);
  return Status::Ok();
}

}  // namespace fm
