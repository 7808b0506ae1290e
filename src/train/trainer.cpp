#include "train/trainer.h"

#include <omp.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "base/output_path.h"
#include "base/progress.h"
#include "io/model_folder.h"
#include "model/matmul.h"
#include "model/model.h"
#include "chat/prompt_format.h"
#include "tokenizer/tokenizer.h"
#include "train/chat_windows.h"
#include "train/data_loader.h"
#include "train/distributed.h"
#include "train/grad_clip.h"
#include "train/token_windows.h"
#include "train/trainer_state.h"

namespace fm {

namespace {

namespace fs = std::filesystem;

const char* TaskName(TrainTask t) {
  return t == TrainTask::kCpt ? "cpt" : "sft";
}

std::string Absolute(const std::string& p) {
  std::error_code ec;
  fs::path a = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? p : a.string();
}

Status ReadFile(const std::string& path, std::string* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::IOError(path + ": cannot read");
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return Status::Ok();
}

Status WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) return Status::IOError(path + ": write failed (disk full?)");
  return Status::Ok();
}

Status ValidateOptions(const TrainOptions& o) {
  auto positive = [](int v, const char* flag) -> Status {
    if (v < 1)
      return Status::InvalidArgument(std::string(flag) + " must be at least 1 (got " + std::to_string(v) +
                                     ")");
    return Status::Ok();
  };
  auto non_negative = [](int v, const char* flag) -> Status {
    if (v < 0)
      return Status::InvalidArgument(std::string(flag) + " must not be negative (got " + std::to_string(v) +
                                     ")");
    return Status::Ok();
  };
  FM_RETURN_IF_ERROR(positive(o.steps, "--steps"));
  FM_RETURN_IF_ERROR(positive(o.seq_len, "--seq-len"));
  FM_RETURN_IF_ERROR(positive(o.batch_size, "--batch-size"));
  FM_RETURN_IF_ERROR(positive(o.grad_accum, "--grad-accum"));
  FM_RETURN_IF_ERROR(non_negative(o.stop_after, "--stop-after"));
  FM_RETURN_IF_ERROR(non_negative(o.save_every, "--save-every"));
  FM_RETURN_IF_ERROR(non_negative(o.eval_every, "--eval-every"));
  FM_RETURN_IF_ERROR(non_negative(o.eval_batches, "--eval-batches"));
  FM_RETURN_IF_ERROR(non_negative(o.threads, "--threads"));
  if (o.model.empty() && o.resume.empty())
    return Status::InvalidArgument("--model is required (or --resume)");
  if (o.data.empty()) return Status::InvalidArgument("--data is required");
  if (o.out.empty()) return Status::InvalidArgument("-o/--out is required");
  if (!(o.adamw.weight_decay >= 0.0f)) return Status::InvalidArgument("--weight-decay must not be negative");
  if (!(o.adamw.beta1 >= 0.0f && o.adamw.beta1 < 1.0f && o.adamw.beta2 >= 0.0f && o.adamw.beta2 < 1.0f)) {
    return Status::InvalidArgument("AdamW betas must lie in [0, 1)");
  }
  if (o.task == TrainTask::kSft && !o.replay.empty()) {
    return Status::InvalidArgument("--replay mixes pretraining shards into cpt; sft does not take it");
  }
  return Status::Ok();
}

Status ResolvePrecision(const std::string& s, Precision* out) {
  if (s == "fp32" || s == "f32") {
    *out = Precision::kF32;
  } else if (s == "bf16") {
    *out = Precision::kBF16;
  } else if (s == "auto" || s.empty()) {
    *out = CpuHasBf16() ? Precision::kBF16 : Precision::kF32;
  } else {
    return Status::InvalidArgument("--precision: unknown value '" + s + "' (use fp32, bf16 or auto)");
  }
  return Status::Ok();
}

// sum (n) = part, or sum += part (elementwise; thread-count independent).
void AddGradients(float* sum, const float* part, size_t n, bool first) {
  if (first) {
    std::memcpy(sum, part, sizeof(float) * n);
    return;
  }
#pragma omp parallel for simd schedule(static)
  for (size_t i = 0; i < n; i++) sum[i] += part[i];
}

// Removes the temporary folders "OUT.tmp-<pid>-<n>[.old]" that a run killed while saving left beside OUT
// (OutputPath names them so), when process <pid> no longer exists on this machine. Returns their names.
std::vector<std::string> RemoveStaleTemporaries(const std::string& out) {
  std::vector<std::string> removed;
  fs::path final_path(out);
  while (!final_path.has_filename() && final_path.has_parent_path()) final_path = final_path.parent_path();
  const std::string prefix = final_path.filename().string() + ".tmp-";
  std::error_code ec;
  fs::path parent = fs::absolute(final_path, ec).parent_path();
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    const std::string name = e.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid <= 0 || (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)) {
      std::error_code rm;
      fs::remove_all(e.path(), rm);
      if (!rm) removed.push_back(e.path().string());
    }
  }
  return removed;
}

std::string Human(double v) {
  char buf[32];
  if (v >= 1e9) {
    std::snprintf(buf, sizeof(buf), "%.2fG", v / 1e9);
  } else if (v >= 1e6) {
    std::snprintf(buf, sizeof(buf), "%.2fM", v / 1e6);
  } else if (v >= 1e3) {
    std::snprintf(buf, sizeof(buf), "%.1fk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  }
  return buf;
}

// Everything one run holds; the steps of RunTraining are its methods.
class Trainer {
 public:
  explicit Trainer(const TrainOptions& opt) : opt_(opt), dist_(Distributed::Get()) {}
  Status Setup();
  Status Run(TrainSummary* summary);

 private:
  Status OpenData();
  Status CheckShardVocabulary(const PackedTokenWindows& w);
  Status CheckResumeArgs(const nlohmann::json& saved) const;
  nlohmann::json ArgsJson() const;
  Status Step(int64_t step, float* loss, double* grad_norm, float* lr);
  Status Evaluate(double* val_loss);
  Status Save(int64_t steps_done);
  // A line on stdout (rank 0), first wiping a progress bar drawn on the same terminal line.
  void Print(const std::string& line) const {
    if (!opt_.verbose || !dist_.is_root()) return;
    if (bar_drawn_) std::fputs("\r\033[K", stderr);
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }

  TrainOptions opt_;
  Distributed& dist_;
  std::string model_dir_;       // the folder the architecture, config and tokenizer come from
  std::string original_model_;  // the model the run started from (kept across resumes, for the record)
  std::unique_ptr<ModelFolder> folder_;
  std::unique_ptr<Model> model_;
  // Tokenizer, generation-config and remote-code files of the input model: (name, bytes), written at every
  // save.
  std::vector<std::pair<std::string, std::string>> side_files_;
  std::unique_ptr<WindowSource> train_, replay_, val_;
  ReplaySpec replay_spec_;
  std::unique_ptr<DataLoader> loader_;
  std::unique_ptr<AdamW> adamw_;
  Precision precision_ = Precision::kF32;
  int64_t start_step_ = 0, end_step_ = 0;
  std::vector<uint32_t> inputs_, targets_;  // (grad_accum * B, T): this rank's micro-batches of a step
  std::vector<int64_t> scored_;             // (grad_accum): scored targets per micro-batch of a step
  // (num_parameters) the step's gradient summed over micro-batches when grad_accum > 1, else empty.
  std::vector<float> grad_sum_;
  bool tokenizer_checked_ = false;
  uint32_t tokenizer_vocab_ = 0;      // vocabulary of the model folder's tokenizer (0: none or not loadable)
  int64_t last_saved_step_ = 0;       // step of the checkpoint OUT holds (the resumed one, or the last save)
  std::vector<std::string> metrics_;  // metrics.jsonl lines so far (carried over from a resumed run)
  bool bar_drawn_ = false;            // a progress bar is on the terminal (decided as ProgressBar does)
};

Status Trainer::OpenData() {
  const int64_t vocab = model_->config().vocab_size;
  if (opt_.task == TrainTask::kCpt) {
    std::unique_ptr<PackedTokenWindows> train, val;
    FM_RETURN_IF_ERROR(PackedTokenWindows::Open(opt_.data, "train", opt_.seq_len, vocab, &train));
    Status s = PackedTokenWindows::Open(opt_.data, "val", opt_.seq_len, vocab, &val);
    if (s.ok()) {
      val_ = std::move(val);
    } else if (s.code() != Status::Code::kNotFound) {
      return s;
    }
    FM_RETURN_IF_ERROR(CheckShardVocabulary(*train));
    if (val) FM_RETURN_IF_ERROR(CheckShardVocabulary(*val));
    train_ = std::move(train);
    if (!opt_.replay.empty()) {
      FM_RETURN_IF_ERROR(ParseReplaySpec(opt_.replay, &replay_spec_));
      std::unique_ptr<PackedTokenWindows> replay;
      FM_RETURN_IF_ERROR(PackedTokenWindows::Open(replay_spec_.path, "train", opt_.seq_len, vocab, &replay)
                             .WithPrefix("--replay"));
      FM_RETURN_IF_ERROR(CheckShardVocabulary(*replay).WithPrefix("--replay"));
      replay_ = std::move(replay);
    }
    return Status::Ok();
  }
  std::unique_ptr<Tokenizer> tokenizer;
  FM_RETURN_IF_ERROR(Tokenizer::Load(model_dir_, &tokenizer));
  ChatFormat format;
  FM_RETURN_IF_ERROR(ChatFormat::Load(model_dir_, opt_.chat_format, &format));
  std::unique_ptr<ChatWindows> train, val;
  FM_RETURN_IF_ERROR(
      ChatWindows::Build(opt_.data, *tokenizer, format, opt_.seq_len, opt_.pack, vocab, &train));
  if (!opt_.val_data.empty()) {
    FM_RETURN_IF_ERROR(
        ChatWindows::Build(opt_.val_data, *tokenizer, format, opt_.seq_len, opt_.pack, vocab, &val)
            .WithPrefix("--val-data"));
    val_ = std::move(val);
  }
  train_ = std::move(train);
  return Status::Ok();
}

// Shards record the vocabulary size of the tokenizer that made them. PackedTokenWindows already refuses ids
// past the embedding; when the model folder has a tokenizer, the sizes must also agree exactly, which catches
// shards of a smaller foreign vocabulary (say Llama-2's 32000 ids fed to a 151936-row Qwen model) whose ids
// would all fit yet mean other words.
Status Trainer::CheckShardVocabulary(const PackedTokenWindows& w) {
  if (!tokenizer_checked_) {
    tokenizer_checked_ = true;
    std::unique_ptr<Tokenizer> tok;
    if (!folder_->tokenizer_files().empty() && Tokenizer::Load(model_dir_, &tok).ok()) {
      tokenizer_vocab_ = tok->vocab_size();
    }
  }
  if (tokenizer_vocab_ == 0 || w.vocab_size() == tokenizer_vocab_) return Status::Ok();
  return Status::InvalidArgument(w.first_shard_path() + ": token shards of a vocabulary of " +
                                 std::to_string(w.vocab_size()) + " ids, but the tokenizer of " + model_dir_ +
                                 " has " + std::to_string(tokenizer_vocab_) +
                                 " (tokenize the corpus with this model's tokenizer)");
}

nlohmann::json Trainer::ArgsJson() const {
  nlohmann::json a;
  a["task"] = TaskName(opt_.task);
  a["model"] = original_model_;
  a["data"] = Absolute(opt_.data);
  a["replay"] = opt_.replay;
  a["val_data"] = opt_.val_data;
  a["chat_format"] = opt_.chat_format;
  a["pack"] = opt_.pack;
  a["steps"] = opt_.steps;
  a["seq_len"] = opt_.seq_len;
  a["batch_size"] = opt_.batch_size;
  a["grad_accum"] = opt_.grad_accum;
  a["world_size"] = dist_.world_size();
  a["lr"] = opt_.schedule.max_lr;
  a["min_lr"] = opt_.schedule.min_lr;
  a["warmup"] = opt_.schedule.warmup_steps;
  a["decay"] = LrDecayName(opt_.schedule.decay);
  a["weight_decay"] = opt_.adamw.weight_decay;
  a["beta1"] = opt_.adamw.beta1;
  a["beta2"] = opt_.adamw.beta2;
  a["eps"] = opt_.adamw.eps;
  a["clip"] = opt_.clip;
  a["seed"] = opt_.seed;
  a["precision"] = precision_ == Precision::kBF16 ? "bf16" : "fp32";
  a["train_windows"] = train_->num_windows();
  a["replay_windows"] = replay_ ? replay_->num_windows() : 0;
  a["replay_fraction"] = replay_spec_.fraction;
  return a;
}

// A resumed run must draw the same windows in the same order: the arguments that decide the data order (and
// the shape of the global batch) must match the saved run's. Rates, steps and checkpointing may change.
Status Trainer::CheckResumeArgs(const nlohmann::json& saved) const {
  const nlohmann::json now = ArgsJson();
  for (const char* key : {"task", "seq_len", "batch_size", "grad_accum", "world_size", "seed",
                          "train_windows", "replay_windows", "replay_fraction", "chat_format", "pack"}) {
    if (!saved.contains(key) || saved[key] != now[key]) {
      std::string what =
          std::string(key) == "world_size" ? "the number of MPI ranks" : std::string("--") + key;
      for (char& c : what) c = c == '_' ? '-' : c;
      return Status::InvalidArgument("--resume " + opt_.resume + ": " + what + " was " +
                                     (saved.contains(key) ? saved[key].dump() : "unset") + ", now " +
                                     now[key].dump() +
                                     " (a resumed run must keep the data order; start a new run instead)");
    }
  }
  return Status::Ok();
}

Status Trainer::Setup() {
  FM_RETURN_IF_ERROR(dist_.init_status());
  FM_RETURN_IF_ERROR(ValidateOptions(opt_));
  opt_.schedule.total_steps = opt_.steps;
  FM_RETURN_IF_ERROR(opt_.schedule.Validate());
  FM_RETURN_IF_ERROR(ResolvePrecision(opt_.precision, &precision_));
  if (opt_.threads > 0) {
    omp_set_num_threads(opt_.threads);
  } else if (dist_.local_size() > 1 && std::getenv("OMP_NUM_THREADS") == nullptr) {
    // Ranks sharing a machine split its cores instead of oversubscribing them.
    omp_set_num_threads(std::max(1, omp_get_num_procs() / dist_.local_size()));
  }

  // The output must not be the model being read (a save replaces the folder).
  model_dir_ = opt_.resume.empty() ? opt_.model : opt_.resume;
  if (opt_.resume.empty() && Absolute(opt_.model) == Absolute(opt_.out)) {
    return Status::InvalidArgument("-o " + opt_.out +
                                   " is the input model folder; write the trained model elsewhere");
  }
  {
    std::error_code ec;
    fs::path parent = fs::absolute(opt_.out).parent_path();
    if (!fs::is_directory(parent, ec)) {
      return Status::NotFound("-o " + opt_.out + ": parent folder " + parent.string() + " does not exist");
    }
  }
  if (dist_.is_root()) {
    for (const std::string& p : RemoveStaleTemporaries(opt_.out))
      Print("removed " + p + " (left by an interrupted save)");
  }
  TrainerState saved;
  original_model_ = Absolute(model_dir_);
  if (!opt_.resume.empty()) {
    FM_RETURN_IF_ERROR(PeekTrainerState(opt_.resume + "/trainer_state", &saved));
    original_model_ = saved.args.value("model", original_model_);
  }

  FM_RETURN_IF_ERROR(ModelFolder::Open(model_dir_, &folder_));
  FM_RETURN_IF_ERROR(Model::FromFolder(*folder_, &model_).WithPrefix(model_dir_));
  std::vector<std::string> side_names = folder_->tokenizer_files();
  if (folder_->has_generation_config()) side_names.push_back("generation_config.json");
  for (const std::string& name : folder_->code_files()) side_names.push_back(name);
  for (const std::string& name : side_names) {
    std::string bytes;
    FM_RETURN_IF_ERROR(ReadFile(model_dir_ + "/" + name, &bytes));
    side_files_.emplace_back(name, std::move(bytes));
  }
  FM_RETURN_IF_ERROR(OpenData());

  adamw_ = std::make_unique<AdamW>(model_->param_tensors(), model_->num_parameters(), opt_.adamw);
  loader_ = std::make_unique<DataLoader>(train_.get(), replay_.get(), replay_spec_.fraction, opt_.seed);
  if (!opt_.resume.empty()) {
    FM_RETURN_IF_ERROR(CheckResumeArgs(saved.args));
    FM_RETURN_IF_ERROR(LoadTrainerState(opt_.resume + "/trainer_state", model_->param_tensors(), &saved,
                                        model_->params(), adamw_->m(), adamw_->v(),
                                        model_->num_parameters()));
    adamw_->set_step_count(saved.adam_step);
    loader_->set_position(saved.data);
    start_step_ = saved.step;
    // Carry over the metrics of the steps that led here.
    std::ifstream f(opt_.resume + "/metrics.jsonl");
    std::string line;
    while (std::getline(f, line)) {
      try {
        if (nlohmann::json::parse(line).at("step").get<int64_t>() <= start_step_) metrics_.push_back(line);
      } catch (const std::exception&) {
        return Status::Corruption(opt_.resume + "/metrics.jsonl: unreadable line '" + line + "'");
      }
    }
  }
  end_step_ = opt_.stop_after > 0 ? std::min(opt_.stop_after, opt_.steps) : opt_.steps;
  if (start_step_ >= end_step_) {
    return Status::InvalidArgument("--resume " + opt_.resume + " is already at step " +
                                   std::to_string(start_step_) +
                                   "; raise --steps (or --stop-after) to train further");
  }
  model_->set_precision(precision_);
  const size_t rows = static_cast<size_t>(opt_.grad_accum) * opt_.batch_size;
  inputs_.resize(rows * opt_.seq_len);
  targets_.resize(rows * opt_.seq_len);
  scored_.resize(static_cast<size_t>(opt_.grad_accum));
  if (opt_.grad_accum > 1) grad_sum_.resize(model_->num_parameters());
  if (!opt_.resume.empty() && Absolute(opt_.resume) == Absolute(opt_.out)) last_saved_step_ = start_step_;

  char line[512];
  Print(std::string(TaskName(opt_.task)) + ": model " + model_dir_ + " (" + model_->config().model_type +
        ", " + Human(static_cast<double>(model_->num_parameters())) + " parameters)");
  Print("  data   " + train_->Describe());
  if (replay_) {
    std::snprintf(line, sizeof(line), "  replay %s at %.3g of windows", replay_->Describe().c_str(),
                  replay_spec_.fraction);
    Print(line);
  }
  Print("  val    " +
        (val_ ? val_->Describe() : std::string("none (no validation windows; val_loss not reported)")));
  std::snprintf(
      line, sizeof(line),
      "  global batch %d windows x %d tokens = %s tokens/step (batch %d x accum %d x %d rank%s), "
      "steps %lld -> %lld of %d, lr %.3g -> %.3g (%s, warmup %d), %s, %d threads/rank",
      dist_.world_size() * opt_.grad_accum * opt_.batch_size, opt_.seq_len,
      Human(static_cast<double>(dist_.world_size()) * opt_.grad_accum * opt_.batch_size * opt_.seq_len)
          .c_str(),
      opt_.batch_size, opt_.grad_accum, dist_.world_size(), dist_.world_size() > 1 ? "s" : "",
      static_cast<long long>(start_step_), static_cast<long long>(end_step_), opt_.steps,
      opt_.schedule.max_lr, opt_.schedule.min_lr, LrDecayName(opt_.schedule.decay),
      opt_.schedule.warmup_steps, precision_ == Precision::kBF16 ? "bf16" : "fp32", omp_get_max_threads());
  Print(line);
  return Status::Ok();
}

Status Trainer::Step(int64_t step, float* loss, double* grad_norm, float* lr) {
  const int B = opt_.batch_size, T = opt_.seq_len, accum = opt_.grad_accum;
  const int per_rank = accum * B;
  FM_RETURN_IF_ERROR(loader_->NextBatch(dist_.world_size() * per_rank, dist_.rank() * per_rank, per_rank,
                                        inputs_.data(), targets_.data()));
  // Scored targets per micro-batch, and in the whole global batch: each micro-batch's mean loss is weighted
  // by its share so the step's gradient is that of the global batch's mean loss over all scored targets.
  std::vector<int64_t>& counts = scored_;
  std::fill(counts.begin(), counts.end(), 0);
  int64_t counts_total[1] = {0};
  for (int a = 0; a < accum; a++) {
    const uint32_t* tg = targets_.data() + static_cast<size_t>(a) * B * T;
    for (size_t i = 0; i < static_cast<size_t>(B) * T; i++) counts[a] += tg[i] != Model::kIgnoreIndex;
    counts_total[0] += counts[a];
  }
  dist_.AllReduceSum(counts_total, 1);
  const int64_t global_count = counts_total[0];

  // Each micro-batch's gradient is computed into zeroed model gradients and then added to grad_sum_, so the
  // step's gradient is the plain float sum g0 + g1 + ... of per-micro-batch gradients, whichever rank
  // computed them: `-np 2` then sums exactly what one process with `--grad-accum 2` sums (accumulating in
  // place would fold micro-batch 1 into micro-batch 0 inside the GEMMs' and the embedding's own summation
  // order, which differs in the last bits).
  const size_t n = model_->num_parameters();
  float* grad = accum > 1 ? grad_sum_.data() : model_->grads();
  double loss_sum[1] = {0.0};
  bool first = true;
  for (int a = 0; a < accum; a++) {
    if (counts[a] == 0) continue;  // nothing to learn from (an sft window without assistant tokens)
    const size_t off = static_cast<size_t>(a) * B * T;
    const float share =
        static_cast<float>(static_cast<double>(counts[a]) / static_cast<double>(global_count));
    model_->ZeroGrad();
    const float l = model_->ForwardBackward(inputs_.data() + off, targets_.data() + off, B, T, share);
    loss_sum[0] += static_cast<double>(l) * counts[a];
    if (accum > 1) AddGradients(grad, model_->grads(), n, first);
    first = false;
  }
  if (first) std::fill(grad, grad + n, 0.0f);  // no scored target on this rank
  dist_.AllReduceSum(loss_sum, 1);
  dist_.AllReduceSum(grad, n);

  *loss = global_count > 0 ? static_cast<float>(loss_sum[0] / static_cast<double>(global_count)) : 0.0f;
  *grad_norm = GlobalGradNorm(grad, n);
  if (!std::isfinite(*loss) || !std::isfinite(*grad_norm)) {
    const double bad = std::isfinite(*loss) ? *grad_norm : static_cast<double>(*loss);
    const std::string what = std::string(std::isfinite(*loss) ? "gradient norm" : "loss") + " is " +
                             (std::isnan(bad) ? "nan"
                              : bad > 0       ? "inf"
                                              : "-inf");
    return Status::Internal("step " + std::to_string(step + 1) + ": " + what +
                            ", training diverged; stopped without updating the weights, " +
                            (last_saved_step_ > 0 ? opt_.out + " still holds the checkpoint of step " +
                                                        std::to_string(last_saved_step_)
                                                  : std::string("no checkpoint was written")) +
                            " (lower --lr or raise --warmup, then --resume from the last checkpoint)");
  }
  *lr = opt_.schedule.At(static_cast<int>(step));
  adamw_->Step(model_->params(), grad, *lr, ClipScale(*grad_norm, opt_.clip));
  return Status::Ok();
}

// Mean loss over the first eval_batches * B validation windows (the same windows at every evaluation, so the
// curve is comparable); batches are spread over the ranks and the summed NLL is all-reduced.
Status Trainer::Evaluate(double* val_loss) {
  const int B = opt_.batch_size, T = opt_.seq_len;
  const uint64_t windows =
      std::min<uint64_t>(static_cast<uint64_t>(opt_.eval_batches) * B, val_->num_windows());
  const int64_t batches = static_cast<int64_t>((windows + B - 1) / B);
  double sums[2] = {0.0, 0.0};  // NLL sum, scored targets
  for (int64_t b = dist_.rank(); b < batches; b += dist_.world_size()) {
    const uint64_t first = static_cast<uint64_t>(b) * B;
    const int n = static_cast<int>(std::min<uint64_t>(B, windows - first));
    FM_RETURN_IF_ERROR(ReadWindows(*val_, first, n, inputs_.data(), targets_.data()));
    double nll = 0.0;
    int64_t count = 0;
    model_->ForwardLoss(inputs_.data(), targets_.data(), n, T, &nll, &count);
    sums[0] += nll;
    sums[1] += static_cast<double>(count);
  }
  dist_.AllReduceSum(sums, 2);
  *val_loss = sums[1] > 0 ? sums[0] / sums[1] : 0.0;
  return Status::Ok();
}

Status Trainer::Save(int64_t steps_done) {
  Status s;
  if (dist_.is_root()) {
    s = [&]() -> Status {
      OutputPath out(opt_.out, OutputPath::Kind::kDirectory);
      FM_RETURN_IF_ERROR(out.Begin());
      const std::string dir = out.temp_path();
      FM_RETURN_IF_ERROR(model_->SaveWeights(dir));
      for (const auto& [name, bytes] : side_files_) FM_RETURN_IF_ERROR(WriteFile(dir + "/" + name, bytes));
      std::error_code ec;
      fs::create_directory(dir + "/trainer_state", ec);
      if (ec) return Status::IOError(dir + "/trainer_state: cannot create: " + ec.message());
      TrainerState state;
      state.step = steps_done;
      state.adam_step = adamw_->step_count();
      state.data = loader_->position();
      state.args = ArgsJson();
      FM_RETURN_IF_ERROR(SaveTrainerState(dir + "/trainer_state", state, model_->param_tensors(),
                                          model_->params(), adamw_->m(), adamw_->v(),
                                          model_->num_parameters()));
      std::string metrics;
      for (const std::string& line : metrics_) metrics += line + "\n";
      FM_RETURN_IF_ERROR(WriteFile(dir + "/metrics.jsonl", metrics));
      return out.Commit();
    }();
  }
  return dist_.BroadcastStatus(s);
}

Status Trainer::Run(TrainSummary* summary) {
  const int64_t tokens_per_step =
      static_cast<int64_t>(dist_.world_size()) * opt_.grad_accum * opt_.batch_size * opt_.seq_len;
  *summary = TrainSummary();
  summary->first_step = start_step_;
  summary->world_size = dist_.world_size();
  summary->rank = dist_.rank();
  const bool can_eval = val_ != nullptr && opt_.eval_batches > 0;
  std::unique_ptr<ProgressBar> bar;
  if (opt_.verbose && dist_.is_root()) {
    bar = std::make_unique<ProgressBar>(
        TaskName(opt_.task), static_cast<uint64_t>((end_step_ - start_step_) * tokens_per_step), "tok");
    const char* env = std::getenv("FINMERGE_PROGRESS");
    bar_drawn_ = env != nullptr ? std::string(env) != "0" : isatty(STDERR_FILENO) != 0;
  }
  for (int64_t step = start_step_; step < end_step_; step++) {
    const auto t0 = std::chrono::steady_clock::now();
    float loss = 0.0f, lr = 0.0f;
    double grad_norm = 0.0;
    FM_RETURN_IF_ERROR(Step(step, &loss, &grad_norm, &lr));
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    summary->seconds += dt;
    summary->tokens += static_cast<uint64_t>(tokens_per_step);
    if (step == start_step_) summary->first_loss = loss;
    summary->last_loss = loss;

    const int64_t done = step + 1;
    const bool last = done == end_step_;
    nlohmann::json m;
    m["step"] = done;
    m["loss"] = loss;
    m["lr"] = lr;
    m["grad_norm"] = grad_norm;
    m["tokens_per_s"] = std::round(static_cast<double>(tokens_per_step) / dt);
    // Evaluations at fixed steps of the schedule (so an interrupted and resumed run logs the same ones).
    if (can_eval && (done == opt_.steps || (opt_.eval_every > 0 && done % opt_.eval_every == 0))) {
      double val_loss = 0.0;
      FM_RETURN_IF_ERROR(Evaluate(&val_loss));
      m["val_loss"] = val_loss;
      summary->val_loss = val_loss;
      char line[160];
      std::snprintf(line, sizeof(line), "step %lld/%d: loss %.4f, val_loss %.4f, lr %.3g, %s tok/s",
                    static_cast<long long>(done), opt_.steps, loss, val_loss, lr,
                    Human(summary->tokens / summary->seconds).c_str());
      Print(line);
    }
    metrics_.push_back(m.dump());
    if (bar) {
      char suffix[64];
      std::snprintf(suffix, sizeof(suffix), "step %lld loss %.4f", static_cast<long long>(done), loss);
      bar->Update(static_cast<uint64_t>((done - start_step_) * tokens_per_step), suffix);
    }
    if (last || (opt_.save_every > 0 && done % opt_.save_every == 0)) {
      FM_RETURN_IF_ERROR(Save(done));
      last_saved_step_ = done;
      if (!last) Print("step " + std::to_string(done) + ": saved " + opt_.out);
    }
    summary->last_step = done;
  }
  if (bar) bar->Finish();
  return Status::Ok();
}

}  // namespace

Status RunTraining(const TrainOptions& opt, TrainSummary* summary) {
  summary->rank = Distributed::Get().rank();
  Trainer trainer(opt);
  FM_RETURN_IF_ERROR(trainer.Setup());
  return trainer.Run(summary);
}

std::string SummaryLine(const TrainOptions& opt, const TrainSummary& s) {
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "%s: steps %lld -> %lld, %s tokens in %.1f s (%s tok/s, %d rank%s); loss %.4f -> %.4f",
                TaskName(opt.task), static_cast<long long>(s.first_step), static_cast<long long>(s.last_step),
                Human(static_cast<double>(s.tokens)).c_str(), s.seconds,
                Human(s.seconds > 0 ? s.tokens / s.seconds : 0.0).c_str(), s.world_size,
                s.world_size > 1 ? "s" : "", s.first_loss, s.last_loss);
  std::string line = buf;
  if (s.val_loss >= 0) {
    std::snprintf(buf, sizeof(buf), ", val_loss %.4f", s.val_loss);
    line += buf;
  }
  return line + "; wrote " + opt.out;
}

}  // namespace fm
