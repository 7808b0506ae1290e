// `finmerge cpt`: continual pretraining of a Hugging Face model on domain token shards (src/train).
#include <cstdio>

#include "cli/command.h"
#include "train/trainer.h"

namespace fm::cli {

// Flags shared by `cpt` and `sft` (declared again in cmd_sft.cpp). Returns a finisher that fills the options
// whose defaults depend on other flags (--min-lr, --warmup).
std::function<void()> AddTrainingFlags(CLI::App& sub, TrainOptions* o, std::string* decay) {
  // A flag given twice takes its last value, so scripts can append overrides to a base command line.
  sub.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  sub.add_option("--model", o->model, "input Hugging Face model folder")->check(CLI::ExistingDirectory);
  sub.add_option("-o,--out", o->out, "output folder: trained model + trainer_state/ + metrics.jsonl")
      ->required();
  sub.add_option("--resume", o->resume,
                 "continue exactly from the output folder of an earlier run (usually the same as -o)")
      ->check(CLI::ExistingDirectory);
  sub.add_option("--steps", o->steps, "optimizer steps of the whole schedule")->capture_default_str();
  sub.add_option("--stop-after", o->stop_after,
                 "end this run after this step, as if interrupted; the schedule still spans --steps");
  sub.add_option("--seq-len", o->seq_len, "tokens per window (T)")->capture_default_str();
  sub.add_option("--batch-size", o->batch_size, "windows per micro-batch (B)")->capture_default_str();
  sub.add_option("--grad-accum", o->grad_accum, "micro-batches per optimizer step (per MPI rank)")
      ->capture_default_str();
  sub.add_option("--lr", o->schedule.max_lr, "peak learning rate")->capture_default_str();
  CLI::Option* min_lr =
      sub.add_option("--min-lr", o->schedule.min_lr, "final learning rate (default --lr / 10)");
  CLI::Option* warmup = sub.add_option("--warmup", o->schedule.warmup_steps,
                                       "linear warmup steps from 0 (default 5% of --steps)");
  sub.add_option("--decay", *decay, "decay after warmup: cosine or linear")->capture_default_str();
  sub.add_option("--weight-decay", o->adamw.weight_decay,
                 "AdamW decoupled weight decay (not on norms/biases)")
      ->capture_default_str();
  sub.add_option("--beta1", o->adamw.beta1, "AdamW beta1")->capture_default_str();
  sub.add_option("--beta2", o->adamw.beta2, "AdamW beta2")->capture_default_str();
  sub.add_option("--clip", o->clip, "global gradient norm limit (0 = off)")->capture_default_str();
  sub.add_option("--seed", o->seed, "seed of the data order")->capture_default_str();
  sub.add_option("--save-every", o->save_every, "steps between checkpoints into -o (0 = only at the end)")
      ->capture_default_str();
  sub.add_option("--eval-every", o->eval_every, "steps between val_loss evaluations (0 = only at the end)")
      ->capture_default_str();
  sub.add_option("--eval-batches", o->eval_batches, "micro-batches of validation windows per evaluation")
      ->capture_default_str();
  sub.add_option("--precision", o->precision, "fp32, bf16, or auto (bf16 when the CPU has AVX512-BF16/AMX)")
      ->capture_default_str();
  sub.add_option("--threads", o->threads, "threads per rank (0 = cores / ranks on this machine)")
      ->capture_default_str();
  return [o, min_lr, warmup]() {
    if (min_lr->count() == 0) o->schedule.min_lr = o->schedule.max_lr / 10.0f;
    if (warmup->count() == 0) o->schedule.warmup_steps = o->steps / 20;
  };
}

// Runs training and prints the summary on rank 0.
int RunTrainingCommand(TrainOptions& o, const std::string& decay) {
  Status s = ParseLrDecay(decay, &o.schedule.decay);
  TrainSummary summary;
  if (s.ok()) s = RunTraining(o, &summary);
  if (!s.ok()) {
    // Every rank meets argument and data errors alike; rank 0 speaks for all.
    if (summary.rank == 0) return ReportError(s);
    return s.code() == Status::Code::kInvalidArgument ? 2 : 1;
  }
  if (summary.rank == 0) std::printf("%s\n", SummaryLine(o, summary).c_str());
  return 0;
}

namespace {

struct CptArgs {
  TrainOptions opt;
  std::string decay = "cosine";
};

std::function<int()> SetupCpt(CLI::App& sub) {
  auto args = std::make_shared<CptArgs>();
  args->opt.task = TrainTask::kCpt;
  auto finish = AddTrainingFlags(sub, &args->opt, &args->decay);
  sub.add_option("--data", args->opt.data, "token shard folder (train_NNNNN.bin, val_NNNNN.bin)")->required();
  sub.add_option("--replay", args->opt.replay,
                 "SHARD_FOLDER:FRACTION of general-domain windows mixed in against forgetting, e.g. gen:0.1");
  return [args, finish]() {
    finish();
    return RunTrainingCommand(args->opt, args->decay);
  };
}

}  // namespace

FM_REGISTER_COMMAND(
    "cpt", "continual pretraining: train a model further on domain token shards (AdamW, MPI data parallel)",
    SetupCpt);

}  // namespace fm::cli
