#include "tokenizer/hf_tokenizer.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/utf8.h"

namespace fm {

namespace {

Status ReadJson(const std::string& path, nlohmann::json* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return Status::IOError(path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    *out = nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::parse_error& e) {
    return Status::Corruption(path + ": not valid JSON (" + e.what() + ")");
  }
  return Status::Ok();
}

// Parses tokenizer.json into a JSON tree, except model.vocab and model.merges (hundreds of thousands of
// entries), which go straight into BpeTables; the tree gets empty placeholders for them.
class TokenizerJsonSax {
 public:
  using json = nlohmann::json;
  TokenizerJsonSax(json* root, BpeTables* tables) : dom_(*root, false), tables_(tables) {}

  bool null() { return mode_ == Mode::kTree ? dom_.null() : Fail("null"); }
  bool boolean(bool v) { return mode_ == Mode::kTree ? dom_.boolean(v) : Fail("a boolean"); }
  bool number_integer(json::number_integer_t v) {
    if (mode_ == Mode::kVocab) {
      tables_->vocab.emplace_back(std::move(key_), v);
      return true;
    }
    return mode_ == Mode::kTree ? dom_.number_integer(v) : Fail("a number");
  }
  bool number_unsigned(json::number_unsigned_t v) {
    if (mode_ == Mode::kVocab) {
      if (v > static_cast<json::number_unsigned_t>(INT32_MAX)) return Fail("an id over 2^31");
      tables_->vocab.emplace_back(std::move(key_), static_cast<int64_t>(v));
      return true;
    }
    return mode_ == Mode::kTree ? dom_.number_unsigned(v) : Fail("a number");
  }
  bool number_float(json::number_float_t v, const json::string_t& s) {
    return mode_ == Mode::kTree ? dom_.number_float(v, s) : Fail("a fraction");
  }
  bool string(json::string_t& v) {
    switch (mode_) {
      case Mode::kTree:
        return dom_.string(v);
      case Mode::kMerges: {
        std::pair<std::string, std::string> p;
        if (!BpeModel::SplitMergeString(v, &p)) return Fail("\"" + v + "\" (not \"left right\")");
        tables_->merges.push_back(std::move(p));
        return true;
      }
      case Mode::kMergePair:
        pair_.push_back(std::move(v));
        return true;
      case Mode::kVocab:
        return Fail("a string");
    }
    return false;
  }
  bool binary(json::binary_t& v) { return mode_ == Mode::kTree ? dom_.binary(v) : Fail("binary data"); }
  bool start_object(std::size_t n) {
    if (mode_ == Mode::kTree && path_.size() == 2 && path_[1] == "model" && key_ == "vocab") {
      mode_ = Mode::kVocab;
      path_.push_back(key_);
      return dom_.start_object(0) && dom_.end_object();
    }
    if (mode_ != Mode::kTree) return Fail("an object");
    path_.push_back(key_);
    return dom_.start_object(n);
  }
  bool key(json::string_t& k) {
    key_ = k;
    return mode_ == Mode::kVocab ? true : dom_.key(k);
  }
  bool end_object() {
    path_.pop_back();
    if (mode_ == Mode::kVocab) {
      mode_ = Mode::kTree;
      return true;
    }
    return dom_.end_object();
  }
  bool start_array(std::size_t n) {
    if (mode_ == Mode::kTree && path_.size() == 2 && path_[1] == "model" && key_ == "merges") {
      mode_ = Mode::kMerges;
      path_.push_back(key_);
      if (n != static_cast<std::size_t>(-1)) tables_->merges.reserve(n);
      return dom_.start_array(0) && dom_.end_array();
    }
    if (mode_ == Mode::kMerges) {
      mode_ = Mode::kMergePair;
      pair_.clear();
      return true;
    }
    if (mode_ != Mode::kTree) return Fail("an array");
    path_.push_back(key_);
    key_.clear();
    return dom_.start_array(n);
  }
  bool end_array() {
    if (mode_ == Mode::kMergePair) {
      if (pair_.size() != 2) return Fail("a merge that is not [\"left\", \"right\"]");
      tables_->merges.emplace_back(std::move(pair_[0]), std::move(pair_[1]));
      mode_ = Mode::kMerges;
      return true;
    }
    path_.pop_back();
    if (mode_ == Mode::kMerges) {
      mode_ = Mode::kTree;
      return true;
    }
    return dom_.end_array();
  }
  bool parse_error(std::size_t pos, const std::string& token, const nlohmann::detail::exception& e) {
    error_ = "not valid JSON at byte " + std::to_string(pos) + " near \"" + token + "\" (" + e.what() + ")";
    return false;
  }
  const std::string& error() const { return error_; }

 private:
  enum class Mode { kTree, kVocab, kMerges, kMergePair };
  bool Fail(const std::string& what) {
    if (mode_ == Mode::kVocab) {
      error_ = "model.vocab[\"" + key_ + "\"] is " + what + ", not a token id";
    } else {
      error_ = "model.merges[" + std::to_string(tables_->merges.size()) + "] holds " + what;
    }
    return false;
  }
  nlohmann::detail::json_sax_dom_parser<json> dom_;
  BpeTables* tables_;
  Mode mode_ = Mode::kTree;
  std::vector<std::string> path_;  // keys under which the open containers were opened; the root's is ""
  std::string key_;
  std::vector<std::string> pair_;
  std::string error_;
};

// tokenizer_config.json writes a special token as "text" or {"content": "text", ...}.
std::optional<std::string> ConfigToken(const nlohmann::json& config, const char* key) {
  if (!config.is_object() || !config.contains(key)) return std::nullopt;
  const auto& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  return std::nullopt;
}

}  // namespace

HfTokenizer::~HfTokenizer() = default;

Status HfTokenizer::Load(const std::string& dir, std::unique_ptr<Tokenizer>* out) {
  std::string path = dir + "/tokenizer.json";
  nlohmann::json tok, config;
  BpeTables tables;
  {
    std::ifstream f(path, std::ios::binary);
    if (!f) return Status::IOError(path + ": cannot open");
    std::stringstream ss;
    ss << f.rdbuf();
    TokenizerJsonSax sax(&tok, &tables);
    if (!nlohmann::json::sax_parse(ss.str(), &sax)) {
      return Status::Corruption(path + ": " + (sax.error().empty() ? "not valid JSON" : sax.error()));
    }
  }
  std::string config_path = dir + "/tokenizer_config.json";
  std::error_code ec;
  if (std::filesystem::exists(config_path, ec)) FM_RETURN_IF_ERROR(ReadJson(config_path, &config));
  std::unique_ptr<HfTokenizer> t;
  FM_RETURN_IF_ERROR(Create(tok, config, path, &tables, &t));
  t->dir_ = dir;
  *out = std::move(t);
  return Status::Ok();
}

Status HfTokenizer::FromJson(const nlohmann::json& tok, const nlohmann::json& config,
                             const std::string& source, std::unique_ptr<HfTokenizer>* out) {
  return Create(tok, config, source, nullptr, out);
}

Status HfTokenizer::Create(const nlohmann::json& tok, const nlohmann::json& config, const std::string& source,
                           const BpeTables* tables, std::unique_ptr<HfTokenizer>* out) {
  std::unique_ptr<HfTokenizer> t(new HfTokenizer());
  t->source_file_ = source;
  try {
    if (!tok.is_object() || !tok.contains("model"))
      return Status::Corruption(source + ": no \"model\" object");
    const auto& model = tok["model"];
    std::string type = model.value("type", std::string());
    if (type.empty() && (model.contains("merges") || tables)) type = "BPE";
    if (type != "BPE") {
      return Status::Unsupported(
          source + ": model type \"" + type +
          "\" is not supported (only BPE; for a SentencePiece Unigram model give the folder "
          "its tokenizer.model instead)");
    }
    FM_RETURN_IF_ERROR(
        Normalizer::FromJson(tok.value("normalizer", nlohmann::json()), &t->normalizer_).WithPrefix(source));
    bool byte_level = false;
    FM_RETURN_IF_ERROR(
        PreTokenizer::FromJson(tok.value("pre_tokenizer", nlohmann::json()), &t->pre_tokenizer_, &byte_level)
            .WithPrefix(source));
    // A ByteLevel decoder without a ByteLevel pre-tokenizer still means a byte-level vocabulary.
    const auto& dec = tok.value("decoder", nlohmann::json());
    if (!byte_level && dec.is_object() && dec.value("type", std::string()) == "ByteLevel" &&
        !t->pre_tokenizer_) {
      byte_level = true;
    }
    if (tables) {
      FM_RETURN_IF_ERROR(BpeModel::Build(model, *tables, byte_level, &t->model_).WithPrefix(source));
    } else {
      FM_RETURN_IF_ERROR(BpeModel::FromJson(model, byte_level, &t->model_).WithPrefix(source));
    }
    FM_RETURN_IF_ERROR(Decoder::FromJson(dec, &t->decoder_).WithPrefix(source));
    FM_RETURN_IF_ERROR(
        PostProcessor::FromJson(tok.value("post_processor", nlohmann::json()), &t->post_).WithPrefix(source));

    std::vector<AddedToken> added;
    for (const auto& a : tok.value("added_tokens", nlohmann::json::array())) {
      AddedToken at;
      at.id = a.at("id").get<uint32_t>();
      at.content = a.at("content").get<std::string>();
      at.special = a.value("special", false);
      at.single_word = a.value("single_word", false);
      at.lstrip = a.value("lstrip", false);
      at.rstrip = a.value("rstrip", false);
      at.normalized = a.value("normalized", !at.special);
      if (at.normalized && t->normalizer_) at.content = t->normalizer_->Normalize(at.content);
      added.push_back(std::move(at));
    }
    t->added_ = AddedTokens(std::move(added));
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(source + ": unexpected structure (" + e.what() + ")");
  }

  // Vocabulary by id: the model's tokens, then the added tokens (which may extend it).
  t->kind_ = t->model_->byte_level() ? TokenizerKind::kByteLevelBpe : TokenizerKind::kByteFallbackBpe;
  t->tokens_ = t->model_->tokens();
  for (const auto& a : t->added_.tokens()) {
    if (a.id >= t->tokens_.size()) t->tokens_.resize(a.id + 1);
  }
  t->types_.assign(t->tokens_.size(), TokenType::kNormal);
  for (size_t i = 0; i < t->tokens_.size(); ++i) {
    if (t->tokens_[i].empty()) t->types_[i] = TokenType::kUnused;
  }
  if (t->model_->byte_fallback()) {
    for (size_t i = 0; i < t->tokens_.size(); ++i) {
      const std::string& s = t->tokens_[i];
      if (s.size() == 6 && s.compare(0, 3, "<0x") == 0 && s[5] == '>') t->types_[i] = TokenType::kByte;
    }
  }
  if (t->model_->unk_id()) t->types_[*t->model_->unk_id()] = TokenType::kUnknown;
  for (const auto& a : t->added_.tokens()) {
    t->types_[a.id] = a.special ? TokenType::kControl : TokenType::kUserDefined;
  }
  // Added tokens are spelled as written in tokenizer.json (before normalization).
  for (const auto& a : tok.value("added_tokens", nlohmann::json::array())) {
    t->tokens_[a.at("id").get<uint32_t>()] = a.at("content").get<std::string>();
  }
  t->IndexTokens();
  t->unk_ = t->model_->unk_id();

  auto id_of = [&](const std::optional<std::string>& s) -> std::optional<uint32_t> {
    if (!s) return std::nullopt;
    return t->TokenToId(*s);
  };
  t->bos_ = id_of(ConfigToken(config, "bos_token"));
  t->eos_ = id_of(ConfigToken(config, "eos_token"));
  t->pad_ = id_of(ConfigToken(config, "pad_token"));
  if (auto u = id_of(ConfigToken(config, "unk_token"))) t->unk_ = u;
  t->add_bos_ = t->bos_ && !t->post_.prefix.empty() && t->post_.prefix.front() == *t->bos_;
  t->add_eos_ = t->eos_ && !t->post_.suffix.empty() && t->post_.suffix.back() == *t->eos_;

  bool newline_in_added = false;
  for (const auto& a : t->added_.tokens())
    newline_in_added = newline_in_added || a.content.find('\n') != std::string::npos;
  t->line_cuts_exact_ = (!t->normalizer_ || t->normalizer_->IsUnicodeFormOnly()) && t->pre_tokenizer_ &&
                        t->pre_tokenizer_->CutsAtLineStarts() && !t->added_.HasLstrip() && !newline_in_added;
  *out = std::move(t);
  return Status::Ok();
}

void HfTokenizer::EncodeWords(std::string_view text, bool at_input_start, std::vector<uint32_t>* ids) const {
  if (text.empty()) return;
  if (!pre_tokenizer_) {
    model_->EncodeWord(text, ids);
    return;
  }
  thread_local PreTokens pt;
  pt.Reset(std::string(text));
  pre_tokenizer_->Apply(&pt, at_input_start);
  for (auto [b, e] : pt.spans) model_->EncodeWord(std::string_view(pt.text).substr(b, e - b), ids);
}

void HfTokenizer::EncodeSection(std::string_view section, bool at_input_start,
                                std::vector<uint32_t>* ids) const {
  if (section.empty()) return;
  std::string normalized;
  std::string_view text = section;
  if (normalizer_) {
    normalized = normalizer_->Normalize(section);
    text = normalized;
  }
  if (!added_.HasNormalized()) {
    EncodeWords(text, at_input_start, ids);
    return;
  }
  std::vector<AddedTokens::Piece> pieces;
  added_.Split(text, /*normalized=*/true, &pieces);
  for (const auto& p : pieces) {
    if (p.id >= 0) {
      ids->push_back(static_cast<uint32_t>(p.id));
    } else {
      EncodeWords(text.substr(p.begin, p.end - p.begin), at_input_start && p.begin == 0, ids);
    }
  }
}

Status HfTokenizer::Encode(std::string_view text, bool add_special, std::vector<uint32_t>* ids) const {
  ids->clear();
  size_t bad = utf8::FirstInvalid(text);
  if (bad != text.size()) {
    return Status::InvalidArgument("invalid UTF-8 at byte " + std::to_string(bad) + " of the text to encode");
  }
  std::vector<AddedTokens::Piece> pieces;
  added_.Split(text, /*normalized=*/false, &pieces);
  for (const auto& p : pieces) {
    if (p.id >= 0) {
      ids->push_back(static_cast<uint32_t>(p.id));
    } else {
      EncodeSection(text.substr(p.begin, p.end - p.begin), p.begin == 0, ids);
    }
  }
  if (add_special) post_.Apply(ids);
  return Status::Ok();
}

std::string HfTokenizer::Decode(const std::vector<uint32_t>& ids, bool skip_special) const {
  std::vector<std::string> toks;
  toks.reserve(ids.size());
  for (uint32_t id : ids) {
    if (const AddedToken* a = added_.ById(id)) {
      if (skip_special && a->special) continue;
      toks.push_back(tokens_[id]);
      continue;
    }
    if (id >= model_->tokens().size() || model_->tokens()[id].empty()) continue;
    toks.push_back(model_->tokens()[id]);
  }
  if (!decoder_) {
    std::string out;
    for (size_t i = 0; i < toks.size(); ++i) {
      if (i) out += ' ';
      out += toks[i];
    }
    return out;
  }
  return decoder_->Decode(std::move(toks));
}

std::vector<std::pair<std::string, std::string>> HfTokenizer::Merges() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(model_->merges().size());
  for (auto [a, b] : model_->merges()) out.emplace_back(model_->tokens()[a], model_->tokens()[b]);
  return out;
}

}  // namespace fm
