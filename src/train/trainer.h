// The training loop behind `finmerge cpt` (continual pretraining on token shards) and `finmerge sft`
// (instruction tuning on chat examples): AdamW with warmup + cosine/linear decay, global-norm clipping,
// gradient accumulation, periodic evaluation and atomic checkpoints, data parallel over MPI ranks.
//
// One optimizer step consumes a global batch of world_size * grad_accum * batch_size windows of seq_len
// tokens. Rank r runs micro-batches r*grad_accum .. (r+1)*grad_accum - 1 of it. Each micro-batch's gradient
// is weighted by its share of the global batch's scored targets, and the ranks' gradients are summed, so
// every rank ends the step holding the gradient of the global batch's mean loss — the same as one process
// with grad_accum * world_size micro-batches.
//
// Output folder (rank 0 writes, atomically: a temporary folder renamed into place at every save):
//   OUT/config.json, model*.safetensors   weights in the input model's dtypes, same tensor names
//   OUT/tokenizer*, generation_config.json, *.py   copied from the input model
//   OUT/trainer_state/state.bin          f32 master weights, AdamW moments, step, data position, arguments
//   OUT/metrics.jsonl                    one JSON object per step (step, loss, lr, grad_norm, tokens_per_s,
//                                        val_loss when evaluated)
// so OUT is at once a model `finmerge merge` reads and a checkpoint `--resume OUT` continues bit for bit.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"
#include "train/adamw.h"
#include "train/lr_schedule.h"

namespace fm {

enum class TrainTask { kCpt, kSft };

struct TrainOptions {
  TrainTask task = TrainTask::kCpt;
  std::string
      model;         // input Hugging Face folder (optional with --resume: the checkpoint folder is the model)
  std::string data;  // cpt: token shard folder (train_*.bin, val_*.bin); sft: chat examples .jsonl
  std::string out;   // output folder (replaced at every save)
  std::string resume;  // output folder of an earlier run to continue from ("" = fresh start)
  std::string replay;  // "SHARD_FOLDER:FRACTION" of general-domain windows mixed in ("" = none)
  // sft only
  std::string val_data;     // held-out chat examples .jsonl for val_loss ("" = no evaluation)
  std::string chat_format;  // named prompt format; "" = the model's own chat template
  bool pack = true;         // pack several examples per window (else one example per window, padded)

  int steps = 1000;     // optimizer steps of the whole schedule
  int stop_after = 0;   // end this run after this step (0 = at --steps); the schedule still spans --steps
  int seq_len = 1024;   // T
  int batch_size = 4;   // B: windows per micro-batch
  int grad_accum = 1;   // micro-batches per rank per step
  LrSchedule schedule;  // total_steps is set from `steps`
  AdamWOptions adamw;
  float clip = 1.0f;  // global gradient norm limit (<= 0: off)
  uint64_t seed = 1234;
  int save_every = 0;              // steps between checkpoints (0 = only at the end)
  int eval_every = 0;              // steps between val_loss evaluations (0 = only at the end)
  int eval_batches = 8;            // micro-batches of validation windows per evaluation (0 = no evaluation)
  std::string precision = "auto";  // "fp32", "bf16" or "auto" (bf16 when the CPU has native bf16)
  int threads = 0;                 // OpenMP threads per rank (0 = cores / ranks on this machine)
  bool verbose = true;             // progress and summary lines on rank 0
};

struct TrainSummary {
  int64_t first_step = 0;  // steps completed before this run (non-zero when resumed)
  int64_t last_step = 0;   // steps completed after it
  uint64_t tokens = 0;     // tokens processed by this run, all ranks
  double seconds = 0.0;    // wall time of the training steps (without evaluation and saving)
  float first_loss = 0.0f, last_loss = 0.0f;
  double val_loss = -1.0;  // last evaluation, or -1 when none ran
  int world_size = 1;
  int rank = 0;  // this process's MPI rank (0 without MPI)
};

// Runs training as described above. Every rank calls it; errors come back as one-line Status values (the same
// on every rank for argument and data errors).
Status RunTraining(const TrainOptions& opt, TrainSummary* summary);

// One line for the end of a run: "cpt: steps 0 -> 200, 1.64M tokens in 12.3 s (133k tok/s, 2 ranks); loss
// 5.43 -> 2.10, val_loss 2.31; wrote OUT".
std::string SummaryLine(const TrainOptions& opt, const TrainSummary& s);

}  // namespace fm
