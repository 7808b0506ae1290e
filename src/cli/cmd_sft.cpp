// `finmerge sft`: supervised instruction tuning on chat examples, loss on assistant tokens only (src/train).
#include <memory>

#include "cli/command.h"
#include "chat/prompt_format.h"
#include "train/trainer.h"

namespace fm::cli {

// Defined in cmd_cpt.cpp: the flags and the runner both training commands share.
std::function<void()> AddTrainingFlags(CLI::App& sub, TrainOptions* o, std::string* decay);
int RunTrainingCommand(TrainOptions& o, const std::string& decay);

namespace {

struct SftArgs {
  TrainOptions opt;
  std::string decay = "cosine";
  bool no_pack = false;
};

std::function<int()> SetupSft(CLI::App& sub) {
  auto args = std::make_shared<SftArgs>();
  args->opt.task = TrainTask::kSft;
  args->opt.schedule.max_lr = 2e-5f;  // fine-tuning rates sit well below pretraining's
  args->opt.adamw.weight_decay = 0.0f;
  auto finish = AddTrainingFlags(sub, &args->opt, &args->decay);
  sub.add_option("--data", args->opt.data,
                 "chat examples, .jsonl of {\"messages\": [{\"role\", \"content\"}, ...]}")
      ->required()
      ->check(CLI::ExistingFile);
  sub.add_option("--val-data", args->opt.val_data, "held-out chat examples (.jsonl) for val_loss")
      ->check(CLI::ExistingFile);
  std::string formats;
  for (const std::string& n : ChatFormat::Names()) formats += (formats.empty() ? "" : ", ") + n;
  sub.add_option("--format", args->opt.chat_format,
                 "prompt format (" + formats + "); default: the model's own chat template");
  sub.add_flag("--no-pack", args->no_pack, "one example per window, padded (default: pack whole examples)");
  return [args, finish]() {
    finish();
    args->opt.pack = !args->no_pack;
    return RunTrainingCommand(args->opt, args->decay);
  };
}

}  // namespace

FM_REGISTER_COMMAND("sft", "instruction tuning on chat examples (.jsonl), loss on assistant tokens only",
                    SetupSft);

}  // namespace fm::cli
