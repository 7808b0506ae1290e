// finmerge analyze --base B MODEL... [--json FILE]: task-vector cosine similarity, norms, sign agreement.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "base/output_path.h"
#include "cli/command.h"
#include "gguf/gguf_input.h"
#include "merge/task_vector_analysis.h"

namespace {

struct AnalyzeFlags {
  std::string base, json;
  std::vector<std::string> models, labels;
};

int RunAnalyze(const AnalyzeFlags& f) {
  // GGUF files are read through temporary Hugging Face folders, labelled by the paths the user gave.
  std::vector<std::unique_ptr<fm::gguf::TemporaryModelFolder>> temps(f.models.size() + 1);
  std::string base;
  std::vector<std::string> models(f.models.size()), labels = f.labels;
  fm::Status s = fm::gguf::ResolveModelInput(f.base, &base, &temps.back());
  for (size_t i = 0; s.ok() && i < f.models.size(); i++) {
    s = fm::gguf::ResolveModelInput(f.models[i], &models[i], &temps[i]);
    if (i >= labels.size()) labels.push_back("");
    if (labels[i].empty()) labels[i] = std::filesystem::path(f.models[i]).lexically_normal().filename().string();
  }
  if (!s.ok()) return fm::cli::ReportError(s);
  fm::TaskVectorAnalysis a;
  s = fm::AnalyzeTaskVectors(base, models, labels, &a);
  if (!s.ok()) return fm::cli::ReportError(s);
  std::fputs(fm::AnalysisToText(a).c_str(), stdout);
  if (!f.json.empty()) {
    fm::OutputPath out(f.json, fm::OutputPath::Kind::kFile);
    s = out.Begin();
    if (s.ok()) {
      std::ofstream(out.temp_path()) << fm::AnalysisToJson(a).dump(1) << "\n";
      s = out.Commit();
    }
    if (!s.ok()) return fm::cli::ReportError(s);
    std::printf("wrote %s\n", f.json.c_str());
  }
  return 0;
}

FM_REGISTER_COMMAND("analyze", "Compare task vectors (model - base): cosine similarity, norms, sign agreement",
                    [](CLI::App& sub) -> std::function<int()> {
                      auto f = std::make_shared<AnalyzeFlags>();
                      sub.add_option("--base", f->base, "The common base model")->required();
                      sub.add_option("models", f->models, "Models whose task vectors are compared")->required();
                      sub.add_option("--labels", f->labels, "Short names for the models (same order)");
                      sub.add_option("--json", f->json, "Write the full analysis as JSON");
                      return [f] { return RunAnalyze(*f); };
                    });

}  // namespace
