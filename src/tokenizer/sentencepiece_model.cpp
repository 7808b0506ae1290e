#include "tokenizer/sentencepiece_model.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/utf8.h"

#if __has_include(<sentencepiece_processor.h>)
#include <sentencepiece_processor.h>
#define FM_HAVE_SENTENCEPIECE 1
#endif

namespace fm {

#ifdef FM_HAVE_SENTENCEPIECE

SentencePieceTokenizer::SentencePieceTokenizer()
    : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
SentencePieceTokenizer::~SentencePieceTokenizer() = default;

Status SentencePieceTokenizer::Load(const std::string& dir, std::unique_ptr<Tokenizer>* out) {
  std::unique_ptr<SentencePieceTokenizer> t(new SentencePieceTokenizer());
  t->kind_ = TokenizerKind::kSentencePiece;
  t->dir_ = dir;
  t->source_file_ = dir + "/tokenizer.model";
  auto st = t->sp_->Load(t->source_file_);
  if (!st.ok())
    return Status::Corruption(t->source_file_ + ": libsentencepiece cannot load it: " + st.ToString());

  int n = t->sp_->GetPieceSize();
  t->tokens_.resize(n);
  t->types_.resize(n);
  t->scores_.resize(n);
  std::vector<AddedToken> specials;
  for (int i = 0; i < n; ++i) {
    t->tokens_[i] = t->sp_->IdToPiece(i);
    t->scores_[i] = t->sp_->GetScore(i);
    TokenType type = TokenType::kNormal;
    if (t->sp_->IsUnknown(i))
      type = TokenType::kUnknown;
    else if (t->sp_->IsControl(i))
      type = TokenType::kControl;
    else if (t->sp_->IsUnused(i))
      type = TokenType::kUnused;
    else if (t->sp_->IsByte(i))
      type = TokenType::kByte;
    t->types_[i] = type;
    if (type == TokenType::kUnknown || type == TokenType::kControl) {
      AddedToken a;
      a.id = static_cast<uint32_t>(i);
      a.content = t->tokens_[i];
      a.special = true;
      specials.push_back(a);
    }
  }
  t->specials_ = AddedTokens(std::move(specials));
  auto opt = [](int id) -> std::optional<uint32_t> {
    if (id < 0) return std::nullopt;
    return static_cast<uint32_t>(id);
  };
  t->bos_ = opt(t->sp_->bos_id());
  t->eos_ = opt(t->sp_->eos_id());
  t->unk_ = opt(t->sp_->unk_id());
  t->pad_ = opt(t->sp_->pad_id());
  t->add_bos_ = t->bos_.has_value();
  t->add_eos_ = false;
  std::string config_path = dir + "/tokenizer_config.json";
  std::error_code ec;
  if (std::filesystem::exists(config_path, ec)) {
    std::ifstream f(config_path);
    std::stringstream ss;
    ss << f.rdbuf();
    try {
      auto config = nlohmann::json::parse(ss.str());
      if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean()) {
        t->add_bos_ = t->bos_ && config["add_bos_token"].get<bool>();
      }
      if (config.contains("add_eos_token") && config["add_eos_token"].is_boolean()) {
        t->add_eos_ = t->eos_ && config["add_eos_token"].get<bool>();
      }
    } catch (const nlohmann::json::exception& e) {
      return Status::Corruption(config_path + ": not valid JSON (" + e.what() + ")");
    }
  }
  *out = std::move(t);
  return Status::Ok();
}

Status SentencePieceTokenizer::Encode(std::string_view text, bool add_special,
                                      std::vector<uint32_t>* ids) const {
  ids->clear();
  size_t bad = utf8::FirstInvalid(text);
  if (bad != text.size()) {
    return Status::InvalidArgument("invalid UTF-8 at byte " + std::to_string(bad) + " of the text to encode");
  }
  if (add_special && add_bos_) ids->push_back(*bos_);
  std::vector<AddedTokens::Piece> pieces;
  specials_.Split(text, false, &pieces);
  std::vector<int> part;
  for (const auto& p : pieces) {
    if (p.id >= 0) {
      ids->push_back(static_cast<uint32_t>(p.id));
      continue;
    }
    auto st = sp_->Encode(std::string_view(text.data() + p.begin, p.end - p.begin), &part);
    if (!st.ok()) return Status::Internal("libsentencepiece: " + st.ToString());
    for (int id : part) ids->push_back(static_cast<uint32_t>(id));
  }
  if (add_special && add_eos_) ids->push_back(*eos_);
  return Status::Ok();
}

std::string SentencePieceTokenizer::Decode(const std::vector<uint32_t>& ids, bool skip_special) const {
  // libsentencepiece drops control pieces and removes the leading space of what it decodes. Special pieces
  // are kept as their text (unless skip_special) and the runs between them are decoded one by one; a run that
  // does not start the text keeps the space its first piece stands for.
  std::string out;
  std::vector<int> run;
  const std::string kSpace = "\xE2\x96\x81";
  auto flush = [&]() {
    if (run.empty()) return;
    std::string s;
    if (sp_->Decode(run, &s).ok()) {
      if (!out.empty() && tokens_[run.front()].rfind(kSpace, 0) == 0) out += ' ';
      out += s;
    }
    run.clear();
  };
  for (uint32_t id : ids) {
    if (id >= tokens_.size()) continue;
    if (types_[id] == TokenType::kControl || types_[id] == TokenType::kUnknown) {
      if (skip_special) continue;
      flush();
      out += tokens_[id];
      continue;
    }
    run.push_back(static_cast<int>(id));
  }
  flush();
  return out;
}

#else  // !FM_HAVE_SENTENCEPIECE

SentencePieceTokenizer::SentencePieceTokenizer() = default;
SentencePieceTokenizer::~SentencePieceTokenizer() = default;

Status SentencePieceTokenizer::Load(const std::string& dir, std::unique_ptr<Tokenizer>*) {
  return Status::Unsupported(dir +
                             "/tokenizer.model: this build has no libsentencepiece (install "
                             "libsentencepiece-dev and rebuild)");
}
Status SentencePieceTokenizer::Encode(std::string_view, bool, std::vector<uint32_t>*) const {
  return Status::Unsupported("built without libsentencepiece");
}
std::string SentencePieceTokenizer::Decode(const std::vector<uint32_t>&, bool) const {
  return std::string();
}

#endif

}  // namespace fm
