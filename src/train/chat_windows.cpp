#include "train/chat_windows.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/model.h"
#include "chat/prompt_format.h"
#include "tokenizer/tokenizer.h"

namespace fm {

namespace {

struct Example {
  std::vector<uint32_t> ids;
  std::vector<uint8_t> loss;  // per token: 1 inside an assistant span
  bool has_reply = false;
  Status status;
};

// Renders and encodes one line. `where` is "file:line" for messages.
void EncodeExample(const std::string& line, const std::string& where, const ChatFormat& fmt,
                   const Tokenizer& tok, Example* ex) {
  std::vector<ChatMessage> msgs;
  try {
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(line);
    if (!j.is_object() || !j.contains("messages")) {
      ex->status =
          Status::InvalidArgument(where + ": expected {\"messages\": [{\"role\", \"content\"}, ...]}");
      return;
    }
    ex->status = ParseChatMessages(j["messages"], &msgs).WithPrefix(where);
  } catch (const std::exception& e) {
    ex->status = Status::InvalidArgument(where + ": not valid JSON (" + e.what() + ")");
  }
  if (!ex->status.ok()) return;
  std::string text;
  std::vector<TextSpan> spans;
  ex->status = RenderChatWithAssistantSpans(fmt, msgs, ChatRenderOptions{}, &text, &spans).WithPrefix(where);
  if (!ex->status.ok()) return;
  ex->has_reply = !spans.empty();
  size_t pos = 0;
  std::vector<uint32_t> piece;
  auto add = [&](size_t begin, size_t end, uint8_t loss) -> Status {
    if (end <= begin) return Status::Ok();
    FM_RETURN_IF_ERROR(
        tok.Encode(std::string_view(text).substr(begin, end - begin), false, &piece).WithPrefix(where));
    ex->ids.insert(ex->ids.end(), piece.begin(), piece.end());
    ex->loss.insert(ex->loss.end(), piece.size(), loss);
    return Status::Ok();
  };
  for (const TextSpan& s : spans) {
    ex->status = add(pos, s.begin, 0);
    if (ex->status.ok()) ex->status = add(s.begin, s.end, 1);
    if (!ex->status.ok()) return;
    pos = s.end;
  }
  ex->status = add(pos, text.size(), 0);
}

}  // namespace

Status ChatWindows::Build(const std::string& jsonl, const Tokenizer& tokenizer, const ChatFormat& format,
                          int seq_len, bool pack, int64_t model_vocab, std::unique_ptr<ChatWindows>* out) {
  if (seq_len < 1) return Status::InvalidArgument("--seq-len must be at least 1");
  std::ifstream f(jsonl);
  if (!f)
    return Status::NotFound(jsonl + ": cannot open chat examples (.jsonl with {\"messages\": [...]} lines)");
  std::vector<std::string> lines;
  std::vector<int64_t> line_no;
  int64_t n = 0;
  for (std::string line; std::getline(f, line);) {
    n++;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    lines.push_back(std::move(line));
    line_no.push_back(n);
  }
  if (lines.empty()) return Status::InvalidArgument(jsonl + ": no chat examples");

  // Encoding dominates: spread the examples over the cores (Tokenizer and ChatFormat are const-thread-safe).
  std::vector<Example> ex(lines.size());
#pragma omp parallel for schedule(dynamic, 16)
  for (size_t i = 0; i < lines.size(); i++) {
    EncodeExample(lines[i], jsonl + ":" + std::to_string(line_no[i]), format, tokenizer, &ex[i]);
  }

  std::unique_ptr<ChatWindows> w(new ChatWindows());
  w->path_ = jsonl;
  w->format_ = format.name();
  w->seq_len_ = seq_len;
  w->pack_ = pack;
  const size_t W = static_cast<size_t>(seq_len) + 1;  // tokens per window
  const uint32_t pad = tokenizer.pad_id().value_or(tokenizer.eos_id().value_or(0));
  size_t fill = W;  // tokens used in the current (last) window; W = no open window
  for (size_t i = 0; i < ex.size(); i++) {
    FM_RETURN_IF_ERROR(ex[i].status);
    if (!ex[i].has_reply) {
      w->stats_.skipped++;
      continue;
    }
    std::vector<uint32_t>& ids = ex[i].ids;
    std::vector<uint8_t>& loss = ex[i].loss;
    for (uint32_t id : ids) {
      if (model_vocab > 0 && id >= model_vocab) {
        return Status::InvalidArgument(jsonl + ":" + std::to_string(line_no[i]) + ": token id " +
                                       std::to_string(id) + " is outside the model's " +
                                       std::to_string(model_vocab) +
                                       "-row embedding (tokenizer and model do not match)");
      }
    }
    if (ids.size() > W) {
      ids.resize(W);
      loss.resize(W);
      w->stats_.truncated++;
    }
    w->stats_.examples++;
    w->stats_.tokens += static_cast<int64_t>(ids.size());
    for (uint8_t l : loss) w->stats_.assistant_tokens += l;
    if (!pack || fill + ids.size() > W) {  // start a new window, padded to W
      w->tokens_.resize(w->tokens_.size() + W, pad);
      w->loss_.resize(w->loss_.size() + W, 0);
      fill = 0;
    }
    const size_t base = w->tokens_.size() - W + fill;
    std::copy(ids.begin(), ids.end(), w->tokens_.begin() + static_cast<std::ptrdiff_t>(base));
    std::copy(loss.begin(), loss.end(), w->loss_.begin() + static_cast<std::ptrdiff_t>(base));
    fill += ids.size();
  }
  if (w->num_windows() == 0) {
    return Status::InvalidArgument(jsonl + ": none of the " + std::to_string(lines.size()) +
                                   " examples has an assistant reply to learn");
  }
  *out = std::move(w);
  return Status::Ok();
}

Status ChatWindows::Read(uint64_t i, uint32_t* inputs, uint32_t* targets) const {
  if (i >= num_windows()) {
    return Status::Internal("chat window " + std::to_string(i) + " out of range " +
                            std::to_string(num_windows()));
  }
  const size_t W = static_cast<size_t>(seq_len_) + 1;
  const uint32_t* tok = tokens_.data() + i * W;
  const uint8_t* loss = loss_.data() + i * W;
  for (int t = 0; t < seq_len_; t++) {
    inputs[t] = tok[t];
    targets[t] = loss[t + 1] ? tok[t + 1] : Model::kIgnoreIndex;
  }
  return Status::Ok();
}

std::string ChatWindows::Describe() const {
  char buf[256];
  std::snprintf(
      buf, sizeof(buf),
      " (%lld examples, format %s, %s into %llu windows; %.1f%% of %lld tokens are assistant tokens",
      static_cast<long long>(stats_.examples), format_.c_str(), pack_ ? "packed" : "padded",
      static_cast<unsigned long long>(num_windows()),
      stats_.tokens > 0 ? 100.0 * stats_.assistant_tokens / stats_.tokens : 0.0,
      static_cast<long long>(stats_.tokens));
  std::string s = path_ + buf;
  if (stats_.truncated > 0) s += ", " + std::to_string(stats_.truncated) + " cut to --seq-len + 1";
  if (stats_.skipped > 0) s += ", " + std::to_string(stats_.skipped) + " without a reply skipped";
  return s + ")";
}

}  // namespace fm
