#include "merge/merge_runner.h"

#include <omp.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "base/output_path.h"
#include "base/progress.h"
#include "io/mapped_memory.h"
#include "io/model_folder.h"
#include "io/safetensors_writer.h"
#include "merge/merge_plan.h"
#include "merge/sparsify.h"

namespace fm {

namespace fs = std::filesystem;
using nlohmann::json;

std::string NamedChatTemplate(const std::string& name) {
  if (name == "chatml") {
    return "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
           "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  }
  if (name == "llama3") {
    return "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + "
           "'<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if "
           "add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
  }
  if (name == "alpaca") {
    return "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] + '\\n\\n' }}"
           "{% elif message['role'] == 'user' %}{{ '### Instruction:\\n' + message['content'] + '\\n\\n' }}"
           "{% elif message['role'] == 'assistant' %}{{ '### Response:\\n' + message['content'] + eos_token + '\\n\\n' }}"
           "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '### Response:\\n' }}{% endif %}";
  }
  if (name == "alpaca-ja") {
    return "{{ '以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。\\n\\n' }}"
           "{% for message in messages %}{% if message['role'] == 'user' %}{{ '### 指示:\\n' + message['content'] + '\\n\\n' }}"
           "{% elif message['role'] == 'system' %}{{ '### 入力:\\n' + message['content'] + '\\n\\n' }}"
           "{% elif message['role'] == 'assistant' %}{{ '### 応答:\\n' + message['content'] + eos_token + '\\n\\n' }}"
           "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '### 応答:\\n' }}{% endif %}";
  }
  return "";
}

namespace {

constexpr size_t kChunk = 1 << 16;   // elements per streamed chunk (one thread's unit of work)
constexpr size_t kWindow = 1 << 24;  // elements mapped at a time per input (32 MB of bf16)

struct Inputs {
  std::vector<std::unique_ptr<ModelFolder>> folders;  // [base?] + models
  std::vector<std::string> labels;
  int base = -1;                 // index of the base folder, -1 if none
  std::vector<size_t> model_idx; // folder index of each merged model, config order
  std::vector<const MergeModelEntry*> entries;
};

Status OpenInputs(const MergeConfig& cfg, const MergeMethod& method, Inputs* in) {
  auto open = [&](const std::string& path, const std::string& label) -> Status {
    std::unique_ptr<ModelFolder> f;
    Status s = ModelFolder::Open(path, &f);
    if (!s.ok()) return s.WithPrefix(label);
    in->folders.push_back(std::move(f));
    in->labels.push_back(label + " " + path);
    return Status::Ok();
  };
  if (method.requires_base()) {
    FM_RETURN_IF_ERROR(open(cfg.base_model, "base_model"));
    in->base = 0;
  }
  for (size_t i = 0; i < cfg.models.size(); i++) {
    const MergeModelEntry& m = cfg.models[i];
    if (method.requires_base() && m.path == cfg.base_model) continue;  // the base is not its own task vector
    FM_RETURN_IF_ERROR(open(m.path, "models[" + std::to_string(i) + "]"));
    in->model_idx.push_back(in->folders.size() - 1);
    in->entries.push_back(&m);
  }
  return Status::Ok();
}

int FindFolder(const Inputs& in, const std::string& path) {
  std::error_code ec;
  for (size_t i = 0; i < in.folders.size(); i++) {
    if (in.folders[i]->path() == path || fs::equivalent(in.folders[i]->path(), path, ec)) return static_cast<int>(i);
  }
  return -1;
}

// Resolves every parameter of `method` for tensor `t`.
Status ResolveParams(const MergeConfig& cfg, const MergeMethod& method, const Inputs& in, const PlannedTensor& t,
                     std::map<std::string, double>* global, std::vector<std::map<std::string, double>>* per_model) {
  for (const ParamDef& d : method.global_params()) {
    double v = d.default_value;
    auto it = cfg.params.find(d.name);
    if (it != cfg.params.end() && !it->second.Evaluate(t.name, t.t, &v)) v = d.default_value;
    (*global)[d.name] = v;
  }
  per_model->assign(in.entries.size(), {});
  for (size_t i = 0; i < in.entries.size(); i++) {
    for (const ParamDef& d : method.model_params()) {
      double v = 0;
      bool found = false;
      auto it = in.entries[i]->params.find(d.name);
      if (it != in.entries[i]->params.end()) found = it->second.Evaluate(t.name, t.t, &v);
      if (!found) {
        auto g = cfg.params.find(d.name);
        if (g != cfg.params.end()) found = g->second.Evaluate(t.name, t.t, &v);
      }
      if (!found) {
        if (d.required) {
          return Status::InvalidArgument(in.labels[in.model_idx[i]] + ": no value of required parameter '" + d.name +
                                         "' applies to tensor '" + t.name + "' (add an entry without filter)");
        }
        v = d.default_value;
      }
      (*per_model)[i][d.name] = v;
    }
  }
  return Status::Ok();
}

bool Overflows(float x, DType out) {
  if (!std::isfinite(x)) return true;
  return out == DType::kF16 && std::fabs(x) > 65504.0f;
}

class TensorMerger {
 public:
  TensorMerger(const MergeMethod& method, const Inputs& in, SafetensorsWriter* writer, bool allow_nonfinite)
      : method_(method), in_(in), writer_(writer), allow_nonfinite_(allow_nonfinite) {}

  Status Run(size_t index, const PlannedTensor& t, const std::map<std::string, double>& global,
             const std::vector<std::map<std::string, double>>& per_model, std::vector<std::string>* notes) {
    nonfinite_ = 0;
    const size_t n = static_cast<size_t>(t.merged_rows * t.row_elems);
    const size_t row_len = t.shape.empty() ? 1 : static_cast<size_t>(t.shape.back());
    const uint64_t seed = HashString(t.name.data(), t.name.size());
    if (method_.elementwise(global)) {
      FM_RETURN_IF_ERROR(RunChunked(index, t, n, row_len, seed, global, per_model));
    } else {
      FM_RETURN_IF_ERROR(RunWhole(index, t, n, row_len, seed, global, per_model));
    }
    FM_RETURN_IF_ERROR(CopyExtraRows(index, t));
    if (nonfinite_ > 0) {
      std::string msg = "tensor '" + t.name + "': " + std::to_string(nonfinite_.load()) +
                        " NaN/Inf values in the merged result (NaN/Inf in an input, or values beyond the range of " +
                        DTypeName(t.out_dtype) + ")";
      if (!allow_nonfinite_) return Status::InvalidArgument(msg + "; nothing was written (--allow-nonfinite writes anyway)");
      notes->push_back("warning: " + msg);
    }
    return Status::Ok();
  }

 private:
  void FillTask(MergeTask* task, const PlannedTensor& t, size_t off, size_t len, size_t row_len, uint64_t seed,
                const std::map<std::string, double>& global, const std::vector<std::map<std::string, double>>& per_model,
                const std::vector<const float*>& folder_data) {
    task->tensor = t.name;
    task->n = len;
    task->offset = off;
    task->row_len = row_len;
    task->base = in_.base >= 0 ? folder_data[in_.base] : nullptr;
    task->models.clear();
    for (size_t i : in_.model_idx) task->models.push_back(folder_data[i]);
    task->model_params = per_model;
    task->params = global;
    task->seed = seed;
  }

  Status Emit(size_t index, const PlannedTensor& t, size_t off, const float* out, size_t len, std::vector<uint8_t>* bytes) {
    size_t bad = 0;
    for (size_t j = 0; j < len; j++) bad += Overflows(out[j], t.out_dtype);
    if (bad) nonfinite_ += bad;
    const size_t es = DTypeSize(t.out_dtype);
    bytes->resize(len * es);
    FromF32(out, t.out_dtype, bytes->data(), len);
    return writer_->Write(index, off * es, bytes->data(), len * es);
  }

  Status RunChunked(size_t index, const PlannedTensor& t, size_t n, size_t row_len, uint64_t seed,
                    const std::map<std::string, double>& global,
                    const std::vector<std::map<std::string, double>>& per_model) {
    const size_t k = in_.folders.size();
    std::mutex mu;
    Status status;
    std::atomic<bool> failed{false};
    // Windows of kWindow elements: the inputs' pages of a window are mapped in one call before the window is
    // processed and dropped after it, so memory stays flat even inside a multi-GB embedding matrix.
    for (size_t w0 = 0; w0 < n && !failed; w0 += kWindow) {
      const size_t wn = std::min(kWindow, n - w0);
      for (size_t i = 0; i < k; i++) {
        const size_t es = DTypeSize(t.inputs[i]->dtype);
        PrefetchMapped(static_cast<const uint8_t*>(t.inputs[i]->data) + w0 * es, wn * es);
      }
      const size_t nchunks = (wn + kChunk - 1) / kChunk;
#pragma omp parallel
      {
        std::vector<float> buf(k * kChunk), out(kChunk);
        std::vector<uint8_t> bytes;
        std::vector<const float*> data(k);
        MergeTask task;
#pragma omp for schedule(dynamic, 1)
        for (size_t c = 0; c < nchunks; c++) {
          if (failed.load(std::memory_order_relaxed)) continue;
          const size_t off = w0 + c * kChunk, len = std::min(kChunk, w0 + wn - off);
          for (size_t i = 0; i < k; i++) {
            const TensorView* v = t.inputs[i];
            ToF32(static_cast<const uint8_t*>(v->data) + off * DTypeSize(v->dtype), v->dtype, buf.data() + i * kChunk, len);
            data[i] = buf.data() + i * kChunk;
          }
          FillTask(&task, t, off, len, row_len, seed, global, per_model, data);
          task.out = out.data();
          Status s = method_.Merge(task);
          if (s.ok()) s = Emit(index, t, off, out.data(), len, &bytes);
          if (!s.ok()) {
            std::lock_guard<std::mutex> lock(mu);
            if (status.ok()) status = s;
            failed = true;
          }
        }
      }
      for (size_t i = 0; i < k; i++) {
        const size_t es = DTypeSize(t.inputs[i]->dtype);
        ReleaseMapped(static_cast<const uint8_t*>(t.inputs[i]->data) + w0 * es, wn * es);
      }
    }
    return status;
  }

  Status RunWhole(size_t index, const PlannedTensor& t, size_t n, size_t row_len, uint64_t seed,
                  const std::map<std::string, double>& global,
                  const std::vector<std::map<std::string, double>>& per_model) {
    const size_t k = in_.folders.size();
    std::vector<std::vector<float>> vals(k);
    std::vector<const float*> data(k);
    for (size_t i = 0; i < k; i++) {
      vals[i].resize(n);
      const TensorView* v = t.inputs[i];
      const size_t es = DTypeSize(v->dtype);
#pragma omp parallel for schedule(static)
      for (size_t off = 0; off < n; off += kChunk) {
        ToF32(static_cast<const uint8_t*>(v->data) + off * es, v->dtype, vals[i].data() + off, std::min(kChunk, n - off));
      }
      data[i] = vals[i].data();
    }
    std::vector<float> out(n);
    MergeTask task;
    FillTask(&task, t, 0, n, row_len, seed, global, per_model, data);
    task.out = out.data();
    FM_RETURN_IF_ERROR(method_.Merge(task));
    vals.clear();
    std::vector<uint8_t> bytes;
    for (size_t off = 0; off < n; off += kChunk) {
      FM_RETURN_IF_ERROR(Emit(index, t, off, out.data() + off, std::min(kChunk, n - off), &bytes));
    }
    return Status::Ok();
  }

  Status CopyExtraRows(size_t index, const PlannedTensor& t) {
    int64_t row = t.merged_rows;
    std::vector<float> f;
    std::vector<uint8_t> bytes;
    for (const auto& [end, src] : t.extra_rows) {
      const TensorView* v = t.inputs[src];
      const size_t count = static_cast<size_t>((end - row) * t.row_elems);
      const size_t off = static_cast<size_t>(row * t.row_elems);
      f.resize(count);
      ToF32(static_cast<const uint8_t*>(v->data) + off * DTypeSize(v->dtype), v->dtype, f.data(), count);
      FM_RETURN_IF_ERROR(Emit(index, t, off, f.data(), count, &bytes));
      row = end;
    }
    return Status::Ok();
  }

  const MergeMethod& method_;
  const Inputs& in_;
  SafetensorsWriter* writer_;
  bool allow_nonfinite_;
  std::atomic<size_t> nonfinite_{0};
};

Status CopyFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return Status::IOError(from + ": cannot copy to " + to + ": " + ec.message());
  return Status::Ok();
}

Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  if (!f) return Status::IOError(path + ": cannot write");
  return Status::Ok();
}

const char* TorchDtype(DType t) { return t == DType::kBF16 ? "bfloat16" : t == DType::kF16 ? "float16" : "float32"; }

}  // namespace

std::string NameInputs(std::string text, const std::map<std::string, std::string>& input_names) {
  for (const auto& [folder, name] : input_names) {
    if (folder.empty()) continue;
    for (size_t at = text.find(folder); at != std::string::npos; at = text.find(folder, at + name.size())) {
      text.replace(at, folder.size(), name);
    }
  }
  return text;
}

namespace {

Status RunMergeWithFolders(const MergeConfig& cfg, const std::string& out_dir, const MergeOptions& opts,
                           MergeSummary* summary) {
  auto start = std::chrono::steady_clock::now();
  const MergeMethod* method = nullptr;
  FM_RETURN_IF_ERROR(ValidateMergeConfig(cfg, &method));
  std::string chat_template;
  if (!cfg.chat_template.empty() && cfg.chat_template != "auto") {
    chat_template = NamedChatTemplate(cfg.chat_template);
    if (chat_template.empty()) {
      if (cfg.chat_template.find("{{") == std::string::npos && cfg.chat_template.find("{%") == std::string::npos) {
        return Status::InvalidArgument(cfg.source_file + ": chat_template '" + cfg.chat_template +
                                       "' is neither a known format (auto, chatml, llama3, alpaca, alpaca-ja) nor a Jinja template");
      }
      chat_template = cfg.chat_template;
    }
  }
  Inputs in;
  FM_RETURN_IF_ERROR(OpenInputs(cfg, *method, &in));
  // Which folder provides config.json (and the tensor order) and which the tokenizer.
  size_t reference = in.base >= 0 ? static_cast<size_t>(in.base) : 0;
  if (!opts.config_source.empty()) {
    int i = FindFolder(in, opts.config_source);
    if (i < 0) return Status::InvalidArgument("config source " + opts.config_source + " is not one of the merged models");
    reference = static_cast<size_t>(i);
  }
  size_t tok = in.base >= 0 ? static_cast<size_t>(in.base) : 0;
  if (!cfg.tokenizer_source.empty() && cfg.tokenizer_source != "base") {
    int i = FindFolder(in, cfg.tokenizer_source);
    if (i < 0) {
      return Status::InvalidArgument(cfg.source_file + ": tokenizer_source " + cfg.tokenizer_source +
                                     " is not one of the merged models (use 'base' or a path listed under models)");
    }
    tok = static_cast<size_t>(i);
  }
  std::vector<const ModelFolder*> folders;
  for (auto& f : in.folders) folders.push_back(f.get());
  PlanOptions popts;
  popts.reference = reference;
  popts.row_priority = {tok};
  if (in.base >= 0) popts.row_priority.push_back(static_cast<size_t>(in.base));
  popts.out_dtype = cfg.out_dtype ? cfg.out_dtype : cfg.dtype;
  popts.labels = in.labels;
  MergePlan plan;
  FM_RETURN_IF_ERROR(PlanMerge(folders, popts, &plan));

  OutputPath out(out_dir, OutputPath::Kind::kDirectory);
  FM_RETURN_IF_ERROR(out.Begin());
  std::vector<TensorSpec> specs;
  uint64_t total = 0, params = 0;
  for (const PlannedTensor& t : plan.tensors) {
    specs.push_back({t.name, t.out_dtype, t.shape});
    total += specs.back().nbytes();
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    params += static_cast<uint64_t>(n);
  }
  std::unique_ptr<SafetensorsWriter> writer;
  FM_RETURN_IF_ERROR(SafetensorsWriter::Create(out.temp_path(), specs, opts.max_shard_bytes,
                                               {{"merged_by", "finmerge"}, {"merge_method", cfg.method}}, &writer));
  std::unique_ptr<ProgressBar> bar;
  if (!opts.quiet) bar = std::make_unique<ProgressBar>("merge " + cfg.method, total, "B");
  TensorMerger merger(*method, in, writer.get(), opts.allow_nonfinite);
  uint64_t done = 0;
  std::vector<std::string> notes = plan.notes;
  for (size_t i = 0; i < plan.tensors.size(); i++) {
    const PlannedTensor& t = plan.tensors[i];
    if (!t.merge) {  // integer / bool buffers: passed through untouched from the reference model
      FM_RETURN_IF_ERROR(writer->Write(i, 0, t.inputs[reference]->data, t.inputs[reference]->nbytes));
    } else {
      std::map<std::string, double> global;
      std::vector<std::map<std::string, double>> per_model;
      FM_RETURN_IF_ERROR(ResolveParams(cfg, *method, in, t, &global, &per_model));
      FM_RETURN_IF_ERROR(merger.Run(i, t, global, per_model, &notes));
    }
    for (size_t f = 0; f < folders.size(); f++) folders[f]->Release(*t.inputs[f]);
    done += specs[i].nbytes();
    if (bar) bar->Update(done, t.name);
  }
  FM_RETURN_IF_ERROR(writer->Finish());
  if (bar) bar->Finish();

  // config.json from the reference model, updated to describe the output.
  const ModelFolder& ref = *folders[reference];
  if (ref.has_config()) {
    json c = ref.config().raw;
    if (plan.out_vocab_rows > 0 && c.contains("vocab_size")) c["vocab_size"] = plan.out_vocab_rows;
    if (popts.out_dtype) c["torch_dtype"] = TorchDtype(*popts.out_dtype);
    FM_RETURN_IF_ERROR(WriteText(out.temp_path() + "/config.json", c.dump(2) + "\n"));
  }
  for (const std::string& f : ref.code_files()) {
    FM_RETURN_IF_ERROR(CopyFile(ref.path() + "/" + f, out.temp_path() + "/" + f));
  }
  const ModelFolder& tokf = *folders[tok];
  for (const std::string& f : tokf.tokenizer_files()) {
    if (!chat_template.empty() && f == "chat_template.jinja") continue;  // replaced below
    FM_RETURN_IF_ERROR(CopyFile(tokf.path() + "/" + f, out.temp_path() + "/" + f));
  }
  if (tokf.has_generation_config()) {
    FM_RETURN_IF_ERROR(CopyFile(tokf.path() + "/generation_config.json", out.temp_path() + "/generation_config.json"));
  }
  if (!chat_template.empty()) {
    std::string p = out.temp_path() + "/tokenizer_config.json";
    json tc = json::object();
    if (fs::exists(p)) {
      std::ifstream f(p);
      tc = json::parse(f, nullptr, false);
      if (tc.is_discarded() || !tc.is_object()) return Status::Corruption(tokf.path() + "/tokenizer_config.json: not a JSON object");
    }
    tc["chat_template"] = chat_template;
    FM_RETURN_IF_ERROR(WriteText(p, tc.dump(2) + "\n"));
  }
  std::string recipe = opts.recipe_yaml.empty() ? MergeConfigToYaml(cfg) : opts.recipe_yaml;
  FM_RETURN_IF_ERROR(WriteText(out.temp_path() + "/finmerge_config.yaml", recipe));
  std::ostringstream card;
  card << "---\ntags:\n- merge\n- finmerge\n---\n# " << fs::path(out_dir).filename().string() << "\n\n";
  card << (opts.card_summary.empty() ? "A merge of the models below, made with finmerge (" + cfg.method + ")."
                                     : opts.card_summary)
       << "\n\n## Models\n\n";
  for (size_t i = 0; i < in.folders.size(); i++) card << "- " << in.labels[i] << "\n";
  card << "\nconfig.json from `" << ref.path() << "`; tokenizer and chat template from `" << tokf.path()
       << "`.\n\n## Recipe (finmerge_config.yaml)\n\n```yaml\n" << recipe << "```\n";
  if (!notes.empty()) {
    card << "\n## Notes\n\n";
    for (const std::string& n : notes) card << "- " << n << "\n";
  }
  FM_RETURN_IF_ERROR(WriteText(out.temp_path() + "/README.md", NameInputs(card.str(), opts.input_names)));
  FM_RETURN_IF_ERROR(out.Commit());

  if (summary) {
    summary->tensors = plan.tensors.size();
    summary->parameters = params;
    summary->bytes_written = total;
    summary->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    summary->notes = notes;
  }
  return Status::Ok();
}

}  // namespace

Status RunMerge(const MergeConfig& cfg, const std::string& out_dir, const MergeOptions& opts, MergeSummary* summary) {
  Status s = RunMergeWithFolders(cfg, out_dir, opts, summary);
  if (opts.input_names.empty()) return s;
  if (!s.ok()) return s.WithMessage(NameInputs(s.message(), opts.input_names));
  if (summary) {
    for (std::string& n : summary->notes) n = NameInputs(n, opts.input_names);
  }
  return s;
}

}  // namespace fm
