#include "gguf/gguf_export.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "base/dtype.h"
#include "base/output_path.h"
#include "base/progress.h"
#include "gguf/gguf_names.h"
#include "gguf/gguf_tokenizer.h"
#include "io/model_folder.h"
#include "model/arch.h"
#include "tokenizer/tokenizer.h"

namespace fm::gguf {

namespace {

namespace fs = std::filesystem;

// One tensor of the output file.
struct Planned {
  const TensorView* src;
  std::string name;          // GGUF name
  std::vector<uint64_t> ne;  // ggml order
  TensorType type;
  size_t permute_head_dim = 0;  // > 0: rotary rows reordered within heads of this many rows
  uint64_t offset = 0, nbytes = 0;
};

// tokenizer.ggml.pre for a byte-level BPE tokenizer.json, the way convert_hf_to_gguf.py names the known ones.
Status DerivePre(const std::string& dir, const Tokenizer& tok, std::string* pre) {
  if (tok.kind() == TokenizerKind::kTiktoken) {
    *pre = "qwen2";  // Qwen-1's tiktoken pattern is Qwen2's
    return Status::Ok();
  }
  const std::string file = dir + "/tokenizer.json";
  std::ifstream in(file);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument(file + ": cannot parse");
  return PreForTokenizerJson(j, file, pre);
}

Status AddTokenizer(const ModelFolder& folder, const ArchConfig& cfg, MetadataBuilder* md) {
  std::unique_ptr<Tokenizer> tok;
  Status s = Tokenizer::Load(folder.path(), &tok);
  if (!s.ok()) return s.WithPrefix("GGUF needs the model's vocabulary");
  if (tok->vocab_size() > static_cast<uint32_t>(cfg.vocab_size)) {
    return Status::InvalidArgument(folder.path() + ": the tokenizer has " + std::to_string(tok->vocab_size()) +
                                   " tokens but the model's vocab_size is " + std::to_string(cfg.vocab_size));
  }
  // llama.cpp sizes the embedding from the token list: pad it to vocab_size as convert_hf_to_gguf.py does.
  std::vector<std::string> tokens(cfg.vocab_size);
  std::vector<int32_t> types(cfg.vocab_size, static_cast<int32_t>(TokenType::kUnused));
  for (uint32_t id = 0; id < static_cast<uint32_t>(cfg.vocab_size); id++) {
    if (id < tok->vocab_size() && !tok->tokens()[id].empty()) {
      tokens[id] = tok->tokens()[id];
      types[id] = static_cast<int32_t>(tok->token_types()[id]);
    } else {
      tokens[id] = "[PAD" + std::to_string(id) + "]";
    }
  }
  switch (tok->kind()) {
    case TokenizerKind::kByteLevelBpe:
    case TokenizerKind::kTiktoken: {
      std::string pre;
      FM_RETURN_IF_ERROR(DerivePre(folder.path(), *tok, &pre));
      std::vector<std::string> merges;
      for (const auto& [a, b] : tok->Merges()) {
        if (a.find(' ') != std::string::npos || b.find(' ') != std::string::npos) {
          return Status::Unsupported(tok->source_file() + ": merge '" + a + "' + '" + b +
                                     "' contains a space, which GGUF's 'a b' merge strings cannot express");
        }
        merges.push_back(a + " " + b);
      }
      if (merges.empty()) {
        return Status::Unsupported(tok->source_file() + ": a byte-level BPE without merges (llama.cpp refuses it)");
      }
      md->String("tokenizer.ggml.model", "gpt2");
      md->String("tokenizer.ggml.pre", pre);
      md->StringArray("tokenizer.ggml.tokens", tokens);
      md->I32Array("tokenizer.ggml.token_type", types);
      md->StringArray("tokenizer.ggml.merges", merges);
      break;
    }
    case TokenizerKind::kSentencePiece: {
      std::vector<float> scores(cfg.vocab_size, -1000.0f);
      for (size_t i = 0; i < tok->scores().size() && i < scores.size(); i++) scores[i] = tok->scores()[i];
      md->String("tokenizer.ggml.model", "llama");
      md->String("tokenizer.ggml.pre", "default");
      md->StringArray("tokenizer.ggml.tokens", tokens);
      md->F32Array("tokenizer.ggml.scores", scores);
      md->I32Array("tokenizer.ggml.token_type", types);
      break;
    }
    case TokenizerKind::kByteFallbackBpe:
      return Status::Unsupported(tok->source_file() +
                                 ": a byte-fallback BPE tokenizer.json (Llama-2 / Mistral style) needs its "
                                 "SentencePiece scores, which finmerge does not derive; add tokenizer.model");
  }
  if (tok->bos_id()) md->U32("tokenizer.ggml.bos_token_id", *tok->bos_id());
  if (tok->eos_id()) md->U32("tokenizer.ggml.eos_token_id", *tok->eos_id());
  if (tok->unk_id()) md->U32("tokenizer.ggml.unknown_token_id", *tok->unk_id());
  if (tok->pad_id()) md->U32("tokenizer.ggml.padding_token_id", *tok->pad_id());
  md->Bool("tokenizer.ggml.add_bos_token", tok->add_bos());
  md->Bool("tokenizer.ggml.add_eos_token", tok->add_eos());
  std::string chat = folder.chat_template();
  if (!chat.empty()) md->String("tokenizer.chat_template", chat);
  return Status::Ok();
}

void AddHyperparameters(const ArchConfig& c, const std::string& a, MetadataBuilder* md) {
  md->U32(a + ".vocab_size", c.vocab_size);
  md->U32(a + ".context_length", c.max_position);
  md->U32(a + ".embedding_length", c.hidden_size);
  md->U32(a + ".block_count", c.num_layers);
  md->U32(a + ".feed_forward_length", c.intermediate_size);
  md->U32(a + ".attention.head_count", c.num_heads);
  md->U32(a + ".attention.head_count_kv", c.num_kv_heads);
  md->F32(a + ".attention.layer_norm_rms_epsilon", c.rms_eps);
  md->F32(a + ".rope.freq_base", c.rope_theta);
  md->U32(a + ".rope.dimension_count", c.head_dim);
  md->U32(a + ".attention.key_length", c.head_dim);
  md->U32(a + ".attention.value_length", c.head_dim);
}

Status PlanTensors(const ModelFolder& folder, const ArchConfig& cfg, const ArchMapping& map, TensorType type,
                   std::vector<Planned>* plan) {
  for (const std::string& hf : folder.tensor_names()) {
    const TensorView* t = folder.Find(hf);
    if (hf == "lm_head.weight" && cfg.tie_word_embeddings) continue;  // the embedding serves as output
    Planned p;
    p.src = t;
    if (!HfToGgufName(hf, &p.name)) {
      return Status::Unsupported(t->file + ": tensor '" + hf + "' has no GGUF name for " + cfg.model_type);
    }
    if (!IsFloat(t->dtype) || t->shape.empty() || t->shape.size() > 2) {
      return Status::Unsupported(t->file + ": tensor '" + hf + "' (" + DTypeName(t->dtype) + " " +
                                 ShapeString(t->shape) + ") is not a 1-D or 2-D float tensor");
    }
    for (auto it = t->shape.rbegin(); it != t->shape.rend(); ++it) p.ne.push_back(static_cast<uint64_t>(*it));
    p.type = t->shape.size() == 1 ? TensorType::kF32 : type;
    if (p.type == TensorType::kQ8_0 && p.ne[0] % kQ8Block != 0) {
      return Status::InvalidArgument(t->file + ": tensor '" + hf + "' has rows of " + std::to_string(p.ne[0]) +
                                     " values, not a multiple of 32 as Q8_0 needs (choose f16 or bf16)");
    }
    if (map.permute_qk && RotaryProjection(hf)) {
      p.permute_head_dim = static_cast<size_t>(cfg.head_dim);
      if (t->shape[0] % cfg.head_dim != 0) {
        return Status::InvalidArgument(t->file + ": tensor '" + hf + "' has " + std::to_string(t->shape[0]) +
                                       " rows, not a multiple of head_dim " + std::to_string(cfg.head_dim));
      }
    }
    p.nbytes = RowBytes(p.type, p.ne[0]) * (p.ne.size() > 1 ? p.ne[1] : 1);
    plan->push_back(std::move(p));
  }
  if (!folder.Find("model.embed_tokens.weight")) {
    return Status::InvalidArgument(folder.path() + ": no model.embed_tokens.weight");
  }
  return Status::Ok();
}

Status WriteAll(std::FILE* f, const void* p, size_t n, const std::string& path) {
  if (n && std::fwrite(p, 1, n, f) != n) return Status::IOError(path + ": write failed: " + std::strerror(errno));
  return Status::Ok();
}

// Streams one tensor: chunks of whole heads (or rows) -> f32 -> permuted -> converted -> written.
Status WriteTensor(std::FILE* f, const Planned& p, const std::string& path) {
  const TensorView& t = *p.src;
  const size_t cols = p.ne[0];
  const size_t rows = p.ne.size() > 1 ? p.ne[1] : 1;
  const size_t unit = p.permute_head_dim ? p.permute_head_dim : 1;
  size_t chunk = std::max<size_t>(1, (size_t{1} << 22) / std::max<size_t>(cols, 1) / unit) * unit;
  const size_t in_es = DTypeSize(t.dtype);
  const uint64_t out_row = RowBytes(p.type, cols);
  std::vector<float> f32(chunk * cols), perm;
  std::vector<uint8_t> out(chunk * out_row);
  const uint8_t* src = static_cast<const uint8_t*>(t.data);
  for (size_t r0 = 0; r0 < rows; r0 += chunk) {
    const size_t nr = std::min(chunk, rows - r0);
    ToF32(src + r0 * cols * in_es, t.dtype, f32.data(), nr * cols);
    const float* rowsrc = f32.data();
    if (p.permute_head_dim) {
      perm.resize(nr * cols);
      PermuteRotaryRows(reinterpret_cast<const uint8_t*>(f32.data()), reinterpret_cast<uint8_t*>(perm.data()), nr,
                        cols * sizeof(float), p.permute_head_dim, false);
      rowsrc = perm.data();
    }
    switch (p.type) {
      case TensorType::kF32: std::memcpy(out.data(), rowsrc, nr * cols * 4); break;
      case TensorType::kF16: FromF32(rowsrc, DType::kF16, out.data(), nr * cols); break;
      case TensorType::kBF16: FromF32(rowsrc, DType::kBF16, out.data(), nr * cols); break;
      case TensorType::kQ8_0:
        for (size_t r = 0; r < nr; r++) QuantizeQ8_0(rowsrc + r * cols, cols, out.data() + r * out_row);
        break;
    }
    FM_RETURN_IF_ERROR(WriteAll(f, out.data(), nr * out_row, path));
  }
  return Status::Ok();
}

}  // namespace

Status ParseTensorType(const std::string& s, TensorType* out) {
  std::string l;
  for (char c : s) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (l == "f32") *out = TensorType::kF32;
  else if (l == "f16") *out = TensorType::kF16;
  else if (l == "bf16") *out = TensorType::kBF16;
  else if (l == "q8_0") *out = TensorType::kQ8_0;
  else return Status::InvalidArgument("unknown GGUF tensor type '" + s + "' (choose f32, f16, bf16 or q8_0)");
  return Status::Ok();
}

Status ExportGguf(const std::string& model_dir, const std::string& out_file, const ExportOptions& options,
                  ExportSummary* summary) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<ModelFolder> folder;
  FM_RETURN_IF_ERROR(ModelFolder::Open(model_dir, &folder));
  if (!folder->has_config()) return Status::InvalidArgument(model_dir + ": no config.json (GGUF export needs it)");
  ArchConfig cfg;
  FM_RETURN_IF_ERROR(ParseArchConfig(folder->config().raw, &cfg).WithPrefix(model_dir));
  ArchMapping map;
  FM_RETURN_IF_ERROR(MapArchitecture(cfg.model_type, &map).WithPrefix(model_dir));
  if (cfg.rope_llama3) {
    return Status::Unsupported(model_dir + ": llama3 rope_scaling needs a rope_freqs tensor, which finmerge's "
                               "GGUF export does not write yet");
  }
  std::vector<Planned> plan;
  FM_RETURN_IF_ERROR(PlanTensors(*folder, cfg, map, options.type, &plan));

  MetadataBuilder md;
  md.String("general.architecture", map.gguf_arch);
  md.String("general.name", fs::path(model_dir).lexically_normal().filename().string().empty()
                                ? fs::path(model_dir).lexically_normal().parent_path().filename().string()
                                : fs::path(model_dir).lexically_normal().filename().string());
  md.U32("general.alignment", kDefaultAlignment);
  md.U32("general.file_type", FileTypeOf(options.type));
  md.U32("general.quantization_version", 2);
  AddHyperparameters(cfg, map.gguf_arch, &md);
  FM_RETURN_IF_ERROR(AddTokenizer(*folder, cfg, &md));

  std::string header;
  PutU32(&header, kMagic);
  PutU32(&header, kVersion);
  PutU64(&header, plan.size());
  PutU64(&header, md.count());
  header += md.bytes();
  uint64_t offset = 0;
  for (Planned& p : plan) {
    p.offset = offset;
    offset = (offset + p.nbytes + kDefaultAlignment - 1) / kDefaultAlignment * kDefaultAlignment;
    PutString(&header, p.name);
    PutU32(&header, static_cast<uint32_t>(p.ne.size()));
    for (uint64_t d : p.ne) PutU64(&header, d);
    PutU32(&header, static_cast<uint32_t>(p.type));
    PutU64(&header, p.offset);
  }
  header.resize((header.size() + kDefaultAlignment - 1) / kDefaultAlignment * kDefaultAlignment, '\0');

  OutputPath out(out_file, OutputPath::Kind::kFile);
  FM_RETURN_IF_ERROR(out.Begin());
  std::FILE* f = std::fopen(out.temp_path().c_str(), "wb");
  if (!f) return Status::IOError(out.temp_path() + ": cannot create: " + std::strerror(errno));
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, &std::fclose);
  FM_RETURN_IF_ERROR(WriteAll(f, header.data(), header.size(), out_file));
  ProgressBar bar("export-gguf", offset, "B");
  uint64_t pos = 0;
  static const char kZeros[kDefaultAlignment] = {};
  for (const Planned& p : plan) {
    FM_RETURN_IF_ERROR(WriteAll(f, kZeros, p.offset - pos, out_file));
    FM_RETURN_IF_ERROR(WriteTensor(f, p, out_file).WithPrefix(p.src->name));
    folder->Release(*p.src);
    pos = p.offset + p.nbytes;
    bar.Update(pos);
  }
  bar.Finish();
  if (std::fflush(f) != 0 || ::fsync(fileno(f)) != 0) {
    return Status::IOError(out_file + ": flush failed: " + std::strerror(errno));
  }
  closer.reset();
  FM_RETURN_IF_ERROR(out.Commit());
  if (summary) {
    summary->gguf_arch = map.gguf_arch;
    summary->tensors = plan.size();
    summary->bytes = header.size() + pos;
    summary->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (cfg.sliding_window > 0) {
      summary->notes.push_back(
          "sliding_window " + std::to_string(cfg.sliding_window) +
          " is not stored: llama.cpp's llama architecture attends to every earlier token, so its outputs differ "
          "from finmerge's and transformers' on sequences longer than " +
          std::to_string(cfg.sliding_window) + " tokens");
    }
  }
  return Status::Ok();
}

}  // namespace fm::gguf
