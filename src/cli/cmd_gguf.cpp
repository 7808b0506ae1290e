// finmerge export-gguf MODEL_DIR -o FILE.gguf [--type f32|f16|bf16|q8_0]
// finmerge import-gguf FILE.gguf -o DIR
// finmerge inspect-gguf FILE.gguf [--all]
#include <algorithm>
#include <cstdio>
#include <memory>

#include "base/progress.h"
#include "cli/command.h"
#include "gguf/gguf_export.h"
#include "gguf/gguf_import.h"

namespace {

int RunExport(const std::string& dir, const std::string& out, const std::string& type) {
  fm::gguf::ExportOptions opt;
  fm::Status s = fm::gguf::ParseTensorType(type, &opt.type);
  if (!s.ok()) return fm::cli::ReportError(s);
  std::fprintf(stderr, "export-gguf: %s -> %s (%s)\n", dir.c_str(), out.c_str(), type.c_str());
  fm::gguf::ExportSummary sum;
  s = fm::gguf::ExportGguf(dir, out, opt, &sum);
  if (!s.ok()) return fm::cli::ReportError(s);
  for (const std::string& n : sum.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  std::printf("wrote %s: GGUF v3, architecture %s, %zu tensors, %s in %.1f s (%s/s)\n", out.c_str(),
              sum.gguf_arch.c_str(), sum.tensors, fm::HumanBytes(static_cast<double>(sum.bytes)).c_str(),
              sum.seconds, fm::HumanBytes(sum.bytes / std::max(sum.seconds, 1e-9)).c_str());
  return 0;
}

int RunImport(const std::string& file, const std::string& out) {
  fm::gguf::ImportSummary sum;
  fm::Status s = fm::gguf::ImportGguf(file, out, &sum);
  if (!s.ok()) return fm::cli::ReportError(s);
  for (const std::string& n : sum.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  std::printf("wrote %s: config.json + model.safetensors%s, %zu tensors, %s\n", out.c_str(),
              sum.tokenizer ? " + tokenizer.json" : "", sum.tensors,
              fm::HumanBytes(static_cast<double>(sum.bytes)).c_str());
  return 0;
}

FM_REGISTER_COMMAND("export-gguf", "Write a llama/mistral/qwen2/qwen3 model folder as a GGUF file for llama.cpp",
                    [](CLI::App& sub) -> std::function<int()> {
                      auto dir = std::make_shared<std::string>();
                      auto out = std::make_shared<std::string>();
                      auto type = std::make_shared<std::string>("f16");
                      sub.add_option("model", *dir, "Hugging Face model folder")->required();
                      sub.add_option("-o,--output", *out, "GGUF file to write")->required();
                      sub.add_option("--type", *type, "Type of the 2-D weights: f32, f16 (default), bf16, q8_0");
                      return [dir, out, type] { return RunExport(*dir, *out, *type); };
                    });

FM_REGISTER_COMMAND("import-gguf", "Turn a GGUF file (llama/qwen2/qwen3) back into a Hugging Face model folder",
                    [](CLI::App& sub) -> std::function<int()> {
                      auto file = std::make_shared<std::string>();
                      auto out = std::make_shared<std::string>();
                      sub.add_option("file", *file, "GGUF file")->required();
                      sub.add_option("-o,--output", *out, "Folder to write")->required();
                      return [file, out] { return RunImport(*file, *out); };
                    });

FM_REGISTER_COMMAND("inspect-gguf", "Show a GGUF file's metadata, tensors, types and shapes",
                    [](CLI::App& sub) -> std::function<int()> {
                      auto file = std::make_shared<std::string>();
                      auto all = std::make_shared<bool>(false);
                      sub.add_option("file", *file, "GGUF file")->required();
                      sub.add_flag("--all", *all, "List every tensor");
                      return [file, all] {
                        fm::Status s = fm::gguf::PrintGgufSummary(*file, *all);
                        return s.ok() ? 0 : fm::cli::ReportError(s);
                      };
                    });

}  // namespace
