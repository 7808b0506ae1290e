// finmerge inspect PATH: tensors, dtypes, shapes, parameter count, architecture summary.
#include <cstdio>
#include <map>

#include "base/progress.h"
#include "cli/command.h"
#include "gguf/gguf_import.h"
#include "gguf/gguf_input.h"
#include "io/model_folder.h"

namespace {

int RunInspect(const std::string& path, bool all) {
  if (fm::gguf::IsGgufFile(path)) {
    fm::Status s = fm::gguf::PrintGgufSummary(path, all);
    return s.ok() ? 0 : fm::cli::ReportError(s);
  }
  std::unique_ptr<fm::ModelFolder> m;
  fm::Status s = fm::ModelFolder::Open(path, &m);
  if (!s.ok()) return fm::cli::ReportError(s);
  const fm::ModelConfig& c = m->config();
  std::printf("model        %s\n", path.c_str());
  if (m->has_config()) {
    std::printf("architecture %s (model_type %s)\n", c.architecture.c_str(), c.model_type.c_str());
    std::printf("layers       %d   hidden %lld   vocab %lld   tied embeddings %s\n", c.num_layers,
                static_cast<long long>(c.hidden_size), static_cast<long long>(c.vocab_size),
                c.tie_word_embeddings ? "yes" : "no");
  } else {
    std::printf("architecture unknown (no config.json)\n");
  }
  std::map<std::string, uint64_t> by_dtype;
  for (const std::string& n : m->tensor_names()) {
    const fm::TensorView* t = m->Find(n);
    by_dtype[fm::DTypeName(t->dtype)] += static_cast<uint64_t>(t->numel());
  }
  std::printf("parameters   %llu (%.3fB) in %zu tensors, %s\n", static_cast<unsigned long long>(m->num_parameters()),
              m->num_parameters() / 1e9, m->tensor_names().size(), fm::HumanBytes(static_cast<double>(m->total_bytes())).c_str());
  for (const auto& [dt, n] : by_dtype) std::printf("  %-6s %llu parameters\n", dt.c_str(), static_cast<unsigned long long>(n));
  auto files = m->tokenizer_files();
  std::string tf;
  for (const auto& f : files) tf += (tf.empty() ? "" : ", ") + f;
  std::printf("tokenizer    %s\n", tf.empty() ? "(none)" : tf.c_str());
  std::printf("generation   %s\n", m->has_generation_config() ? "generation_config.json" : "(none)");
  std::printf("chat template %s\n", m->chat_template().empty() ? "(none)" : "yes");
  std::printf("\n%-60s %-6s %s\n", "tensor", "dtype", "shape");
  size_t shown = 0;
  for (const std::string& n : m->tensor_names()) {
    const fm::TensorView* t = m->Find(n);
    if (!all && shown >= 40 && m->tensor_names().size() > 48) {
      std::printf("... %zu more tensors (--all lists every tensor)\n", m->tensor_names().size() - shown);
      break;
    }
    std::printf("%-60s %-6s %s\n", n.c_str(), fm::DTypeName(t->dtype), fm::ShapeString(t->shape).c_str());
    shown++;
  }
  return 0;
}

FM_REGISTER_COMMAND("inspect", "Show a model's tensors, dtypes, shapes, parameter count and architecture",
                    [](CLI::App& sub) -> std::function<int()> {
                      auto path = std::make_shared<std::string>();
                      auto all = std::make_shared<bool>(false);
                      sub.add_option("path", *path, "Model folder, .safetensors or .gguf file")->required();
                      sub.add_flag("--all", *all, "List every tensor");
                      return [path, all] { return RunInspect(*path, *all); };
                    });

}  // namespace
