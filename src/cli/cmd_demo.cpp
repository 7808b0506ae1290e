// finmerge demo [--out DIR] [--seed N] [--threads N]: the paper's method end to end on a small world the demo
// generates itself — pretrain a tiny base model, SFT it into an instruct model, continually pretrain it on a
// finance corpus, merge with the chat vector, and evaluate all four (src/pipeline/demo_run.h).
#include <cstdio>

#include "cli/command.h"
#include "pipeline/demo_run.h"

namespace {

FM_REGISTER_COMMAND(
    "demo",
    "Train a tiny world from scratch (base, instruct, finance CPT), merge with the chat vector, evaluate all "
    "four",
    [](CLI::App& sub) -> std::function<int()> {
      auto o = std::make_shared<fm::DemoOptions>();
      sub.add_option("--out", o->out, "run folder (a second run reuses its finished stages)")
          ->capture_default_str();
      sub.add_option("--seed", o->seed, "seed of the world and of training")->capture_default_str();
      sub.add_option("--threads", o->threads, "threads (0 = all cores)")->capture_default_str();
      // For tests: "tiny" runs every real stage on a world and models small enough to finish in seconds.
      sub.add_option("--size", o->size, "default or tiny")->capture_default_str()->group("");
      return [o] {
        fm::DemoSummary s;
        fm::Status st = fm::RunDemo(*o, &s);
        if (!st.ok()) return fm::cli::ReportError(st);
        return 0;
      };
    });

}  // namespace
