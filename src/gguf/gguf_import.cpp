#include "gguf/gguf_import.h"

#include <charconv>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <vector>

#include "base/dtype.h"
#include "base/output_path.h"
#include "base/progress.h"
#include "gguf/gguf_names.h"
#include "gguf/gguf_tokenizer.h"
#include "io/safetensors_writer.h"
#include "io/tensor.h"

namespace fm::gguf {

namespace {

Status GetInt(const GgufFile& f, const std::string& key, bool required, int64_t* out) {
  const Value* v = f.Find(key);
  if (!v) return required ? Status::InvalidArgument(f.path() + ": missing metadata key '" + key + "'") : Status::Ok();
  if (!v->AsInt(out)) return Status::InvalidArgument(f.path() + ": metadata key '" + key + "' is not an integer");
  return Status::Ok();
}

// A float32 key as the shortest decimal that reads back as the same float (1e-06, not 9.99999997e-07).
Status GetFloat(const GgufFile& f, const std::string& key, double fallback, double* out) {
  const Value* v = f.Find(key);
  if (!v) {
    *out = fallback;
    return Status::Ok();
  }
  double d;
  if (!v->AsDouble(&d)) return Status::InvalidArgument(f.path() + ": metadata key '" + key + "' is not a number");
  if (v->type == ValueType::kF32) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<float>(d));
    std::from_chars(buf, r.ptr, d);
  }
  *out = d;
  return Status::Ok();
}

DType HfDType(TensorType t) {
  switch (t) {
    case TensorType::kF16: return DType::kF16;
    case TensorType::kBF16: return DType::kBF16;
    default: return DType::kF32;  // F32, and Q8_0 dequantised
  }
}

}  // namespace

Status HfConfigFromGguf(const GgufFile& f, nlohmann::json* config) {
  const Value* a = f.Find("general.architecture");
  if (!a || a->type != ValueType::kString) return Status::InvalidArgument(f.path() + ": no general.architecture");
  const std::string arch = a->s;
  std::string model_type;
  FM_RETURN_IF_ERROR(ModelTypeForGgufArch(arch, &model_type).WithPrefix(f.path()));
  const TensorInfo* embd = f.FindTensor("token_embd.weight");
  if (!embd || embd->ne.size() != 2) return Status::InvalidArgument(f.path() + ": no 2-D token_embd.weight");
  int64_t hidden, ff, layers, heads, kv_heads, ctx = 2048, head_dim = 0;
  FM_RETURN_IF_ERROR(GetInt(f, arch + ".embedding_length", true, &hidden));
  FM_RETURN_IF_ERROR(GetInt(f, arch + ".feed_forward_length", true, &ff));
  FM_RETURN_IF_ERROR(GetInt(f, arch + ".block_count", true, &layers));
  FM_RETURN_IF_ERROR(GetInt(f, arch + ".attention.head_count", true, &heads));
  kv_heads = heads;
  FM_RETURN_IF_ERROR(GetInt(f, arch + ".attention.head_count_kv", false, &kv_heads));
  FM_RETURN_IF_ERROR(GetInt(f, arch + ".context_length", false, &ctx));
  FM_RETURN_IF_ERROR(GetInt(f, arch + ".attention.key_length", false, &head_dim));
  if (heads <= 0 || hidden <= 0) return Status::InvalidArgument(f.path() + ": head_count and embedding_length must be positive");
  if (head_dim == 0) head_dim = hidden / heads;
  double eps, theta;
  FM_RETURN_IF_ERROR(GetFloat(f, arch + ".attention.layer_norm_rms_epsilon", 1e-5, &eps));
  FM_RETURN_IF_ERROR(GetFloat(f, arch + ".rope.freq_base", 10000.0, &theta));
  static const std::map<std::string, std::string> kArchitectures = {
      {"llama", "LlamaForCausalLM"}, {"qwen2", "Qwen2ForCausalLM"}, {"qwen3", "Qwen3ForCausalLM"}};
  nlohmann::json j = nlohmann::json::object();
  j["architectures"] = {kArchitectures.at(arch)};
  j["model_type"] = model_type;
  j["vocab_size"] = embd->ne[1];
  j["hidden_size"] = hidden;
  j["intermediate_size"] = ff;
  j["num_hidden_layers"] = layers;
  j["num_attention_heads"] = heads;
  j["num_key_value_heads"] = kv_heads;
  j["head_dim"] = head_dim;
  j["max_position_embeddings"] = ctx;
  j["rms_norm_eps"] = eps;
  j["rope_theta"] = theta;
  j["hidden_act"] = "silu";
  j["tie_word_embeddings"] = f.FindTensor("output.weight") == nullptr;
  if (arch != "qwen2") j["attention_bias"] = f.FindTensor("blk.0.attn_output.bias") != nullptr;
  j["torch_dtype"] = embd->type == TensorType::kF16 ? "float16" : embd->type == TensorType::kBF16 ? "bfloat16" : "float32";
  int64_t v;
  if (GetInt(f, "tokenizer.ggml.bos_token_id", false, &(v = -1)).ok() && v >= 0) j["bos_token_id"] = v;
  if (GetInt(f, "tokenizer.ggml.eos_token_id", false, &(v = -1)).ok() && v >= 0) j["eos_token_id"] = v;
  *config = std::move(j);
  return Status::Ok();
}

Status ImportGguf(const std::string& gguf_path, const std::string& out_dir, ImportSummary* summary) {
  std::unique_ptr<GgufFile> f;
  FM_RETURN_IF_ERROR(GgufFile::Open(gguf_path, &f));
  nlohmann::json config;
  FM_RETURN_IF_ERROR(HfConfigFromGguf(*f, &config));
  const bool permute = f->Find("general.architecture")->s == "llama";
  const size_t head_dim = config["head_dim"].get<size_t>();

  std::vector<TensorSpec> specs;
  std::vector<std::pair<std::string, const TensorInfo*>> order;
  for (const TensorInfo& t : f->tensors()) {
    std::string hf;
    if (!GgufToHfName(t.name, &hf)) {
      return Status::Unsupported(gguf_path + ": tensor '" + t.name + "' has no Hugging Face name in finmerge");
    }
    if (t.ne.empty() || t.ne.size() > 2) {
      return Status::Unsupported(gguf_path + ": tensor '" + t.name + "' is not 1-D or 2-D");
    }
    if (permute && RotaryProjection(hf) && (t.shape()[0] % static_cast<int64_t>(head_dim)) != 0) {
      return Status::InvalidArgument(gguf_path + ": tensor '" + t.name + "' rows are not a multiple of head_dim");
    }
    specs.push_back({hf, HfDType(t.type), t.shape()});
    order.emplace_back(hf, &t);
  }
  OutputPath out(out_dir, OutputPath::Kind::kDirectory);
  FM_RETURN_IF_ERROR(out.Begin());
  std::unique_ptr<SafetensorsWriter> w;
  FM_RETURN_IF_ERROR(SafetensorsWriter::Create(out.temp_path(), specs, SafetensorsWriter::kDefaultMaxShardBytes,
                                               {{"format", "pt"}}, &w));
  ProgressBar bar("import-gguf", f->file_size(), "B");
  uint64_t done = 0;
  for (size_t i = 0; i < order.size(); i++) {
    const TensorInfo& t = *order[i].second;
    const size_t cols = t.ne[0], rows = t.numel() / cols;
    std::vector<uint8_t> buf;
    const uint8_t* bytes = t.data;
    if (t.type == TensorType::kQ8_0) {
      buf.resize(t.numel() * sizeof(float));
      DequantizeQ8_0(t.data, t.numel(), reinterpret_cast<float*>(buf.data()));
      bytes = buf.data();
    }
    const size_t row_bytes = cols * DTypeSize(HfDType(t.type));
    std::vector<uint8_t> perm;
    if (permute && RotaryProjection(order[i].first)) {
      perm.resize(rows * row_bytes);
      PermuteRotaryRows(bytes, perm.data(), rows, row_bytes, head_dim, true);
      bytes = perm.data();
    }
    FM_RETURN_IF_ERROR(w->WriteAll(i, bytes).WithPrefix(out_dir));
    done += t.nbytes;
    bar.Update(done);
  }
  FM_RETURN_IF_ERROR(w->Finish());
  bar.Finish();
  {
    std::ofstream cf(out.temp_path() + "/config.json");
    cf << config.dump(2) << "\n";
    if (!cf) return Status::IOError(out_dir + "/config.json: write failed");
  }
  nlohmann::json tokenizer, tokenizer_config;
  Status tok = TokenizerFilesFromGguf(*f, &tokenizer, &tokenizer_config);
  if (tok.ok()) {
    for (const auto& [name, doc] : {std::pair<const char*, const nlohmann::json*>{"tokenizer.json", &tokenizer},
                                    {"tokenizer_config.json", &tokenizer_config}}) {
      std::string text;
      try {
        text = doc->dump(name == std::string("tokenizer.json") ? -1 : 2);
      } catch (const nlohmann::json::exception&) {
        return Status::Corruption(gguf_path + ": a token or the chat template is not valid UTF-8");
      }
      std::ofstream tf(out.temp_path() + "/" + name);
      tf << text << "\n";
      if (!tf) return Status::IOError(out_dir + "/" + name + ": write failed");
    }
  } else if (const Value* chat = f->Find("tokenizer.chat_template"); chat && chat->type == ValueType::kString) {
    std::ofstream cf(out.temp_path() + "/chat_template.jinja");
    cf << chat->s;
    if (!cf) return Status::IOError(out_dir + "/chat_template.jinja: write failed");
  }
  FM_RETURN_IF_ERROR(out.Commit());
  if (summary) {
    summary->tensors = order.size();
    summary->bytes = w->total_bytes();
    summary->tokenizer = tok.ok();
    if (!tok.ok()) summary->notes.push_back("no tokenizer written: " + tok.message());
  }
  return Status::Ok();
}

Status PrintGgufSummary(const std::string& gguf_path, bool all) {
  std::unique_ptr<GgufFile> f;
  FM_RETURN_IF_ERROR(GgufFile::Open(gguf_path, &f));
  std::printf("model        %s\n", gguf_path.c_str());
  std::printf("format       GGUF v%u, alignment %u, %zu metadata keys, %zu tensors, %s\n", f->version(),
              f->alignment(), f->keys().size(), f->tensors().size(), HumanBytes(static_cast<double>(f->file_size())).c_str());
  nlohmann::json cfg;
  if (HfConfigFromGguf(*f, &cfg).ok()) {
    std::printf("architecture %s (model_type %s)\n", cfg["architectures"][0].get<std::string>().c_str(),
                cfg["model_type"].get<std::string>().c_str());
    std::printf("layers       %lld   hidden %lld   vocab %lld   tied embeddings %s\n",
                cfg["num_hidden_layers"].get<long long>(), cfg["hidden_size"].get<long long>(),
                cfg["vocab_size"].get<long long>(), cfg["tie_word_embeddings"].get<bool>() ? "yes" : "no");
  }
  std::map<std::string, uint64_t> by_type;
  uint64_t params = 0;
  for (const TensorInfo& t : f->tensors()) {
    by_type[TensorTypeName(static_cast<uint32_t>(t.type))] += t.numel();
    params += t.numel();
  }
  std::printf("parameters   %llu (%.3fB)\n", static_cast<unsigned long long>(params), params / 1e9);
  for (const auto& [ty, n] : by_type) std::printf("  %-6s %llu parameters\n", ty.c_str(), static_cast<unsigned long long>(n));
  std::printf("\n%-44s %s\n", "metadata key", "value");
  for (const std::string& k : f->keys()) std::printf("%-44s %s\n", k.c_str(), f->Find(k)->ToString().c_str());
  std::printf("\n%-40s %-6s %s\n", "tensor", "type", "shape (row-major)");
  size_t shown = 0;
  for (const TensorInfo& t : f->tensors()) {
    if (!all && shown >= 40 && f->tensors().size() > 48) {
      std::printf("... %zu more tensors (--all lists every tensor)\n", f->tensors().size() - shown);
      break;
    }
    std::printf("%-40s %-6s %s\n", t.name.c_str(), TensorTypeName(static_cast<uint32_t>(t.type)),
                ShapeString(t.shape()).c_str());
    shown++;
  }
  return Status::Ok();
}

}  // namespace fm::gguf
