#include "tokenizer/hf_tokenizer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tokenizer/prefault.h"
#include "tokenizer/tokenizer_json_scan.h"
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

// A file mapped read-only. MAP_POPULATE maps its page-cache pages in one go: nothing is copied and no page
// faults one by one (tokenizer.json is 10+ MB).
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (map_) munmap(map_, size_);
  }
  Status Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY);
    if (fd < 0) return Status::IOError(path + ": cannot open: " + std::strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
      ::close(fd);
      return Status::IOError(path + ": cannot stat: " + std::strerror(errno));
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* m = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (m == MAP_FAILED) {
        ::close(fd);
        return Status::IOError(path + ": cannot map: " + std::strerror(errno));
      }
      map_ = m;
    }
    ::close(fd);
    return Status::Ok();
  }
  std::string_view text() const {
    return map_ ? std::string_view(static_cast<const char*>(map_), size_) : std::string_view();
  }

 private:
  void* map_ = nullptr;
  size_t size_ = 0;
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
  MappedFile file;
  FM_RETURN_IF_ERROR(file.Open(path));
  std::string_view text = file.text();
  // The fast path reads vocab and merges as views into `text`; anything it does not expect is parsed again
  // as a whole by nlohmann::json, whose errors name the byte and the problem.
  nlohmann::json tok, config;
  BpeTables tables;
  bool scanned = ScanTokenizerJson(text, &tables, &tok);
  if (!scanned) {
    tables = BpeTables();
    try {
      tok = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      return Status::Corruption(path + ": not valid JSON (" + e.what() + ")");
    }
  }
  std::string config_path = dir + "/tokenizer_config.json";
  std::error_code ec;
  if (std::filesystem::exists(config_path, ec)) FM_RETURN_IF_ERROR(ReadJson(config_path, &config));
  std::unique_ptr<HfTokenizer> t;
  FM_RETURN_IF_ERROR(Create(tok, config, path, scanned ? &tables : nullptr, &t));
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
    // Room for every id, added tokens included, so that the token list is never moved once filled (the
    // model fills it, and touches the memory first).
    size_t ids = tables ? tables->vocab.size() : 0;
    for (const auto& a : tok.value("added_tokens", nlohmann::json::array()))
      ids = std::max<size_t>(ids, a.at("id").get<uint32_t>() + size_t{1});
    t->tokens_.reserve(ids);
    if (tables) {
      FM_RETURN_IF_ERROR(
          BpeModel::Build(model, *tables, byte_level, &t->model_, &t->tokens_).WithPrefix(source));
    } else {
      FM_RETURN_IF_ERROR(BpeModel::FromJson(model, byte_level, &t->model_, &t->tokens_).WithPrefix(source));
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

  // Vocabulary by id: the model's tokens (filled in by the model), then the added tokens (which may extend
  // it).
  t->kind_ = t->model_->byte_level() ? TokenizerKind::kByteLevelBpe : TokenizerKind::kByteFallbackBpe;
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
  const auto& added_json = tok.value("added_tokens", nlohmann::json::array());
  for (const auto& a : added_json) {
    uint32_t id = a.at("id").get<uint32_t>();
    const std::string& content = a.at("content").get_ref<const std::string&>();
    const std::string& model_spelling = t->tokens_[id];  // still the model's: nothing is overridden yet
    if (id < t->model_->vocab_size() && !model_spelling.empty() && model_spelling != content &&
        !t->ModelSpelling(id).data()) {
      t->model_spellings_.emplace_back(id, model_spelling);
    }
  }
  for (const auto& a : added_json)
    t->tokens_[a.at("id").get<uint32_t>()] = a.at("content").get<std::string>();
  t->unk_ = t->model_->unk_id();

  auto id_of = [&](const std::optional<std::string>& s) -> std::optional<uint32_t> {
    if (!s) return std::nullopt;
    return t->LowestIdSpelled(*s);
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
  pt.Reset(text);
  pre_tokenizer_->Apply(&pt, at_input_start);
  for (auto [b, e] : pt.spans) model_->EncodeWord(std::string_view(pt.text).substr(b, e - b), ids);
}

void HfTokenizer::EncodeSection(std::string_view section, bool at_input_start,
                                std::vector<uint32_t>* ids) const {
  if (section.empty()) return;
  std::string normalized;
  std::string_view text = section;
  // Unicode normal forms leave ASCII as it is (most text of most corpora): skip the copy.
  if (normalizer_ && !(normalizer_->IsUnicodeFormOnly() && utf8::IsAscii(section))) {
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
  thread_local std::vector<AddedTokens::Piece> pieces;  // reused (EncodeSection does not use it)
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
    // Ids that are not added tokens keep the model's spelling in tokens_.
    if (id >= model_->vocab_size() || tokens_[id].empty()) continue;
    toks.push_back(tokens_[id]);
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
  auto spelled = [&](uint32_t id) {
    std::string_view s = ModelSpelling(id);
    return std::string(s.data() ? s : std::string_view(tokens_[id]));
  };
  for (auto [a, b] : model_->merges()) out.emplace_back(spelled(a), spelled(b));
  return out;
}

std::string_view HfTokenizer::ModelSpelling(uint32_t id) const {
  for (const auto& [i, s] : model_spellings_) {
    if (i == id) return s;
  }
  return std::string_view();
}

std::optional<uint32_t> HfTokenizer::LowestIdSpelled(std::string_view s) const {
  std::optional<uint32_t> best;
  if (auto m = model_->TokenToId(s); m && tokens_[*m] == s) best = m;
  for (const auto& a : added_.tokens()) {
    if (tokens_[a.id] == s && (!best || a.id < *best)) best = a.id;
  }
  return best;
}

}  // namespace fm
