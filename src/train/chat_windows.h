// ChatWindows: instruction-tuning windows from chat examples, with loss only on what the assistant says.
//
// Input: a .jsonl file, one example per line: {"messages": [{"role": "system"|"user"|"assistant", "content":
// "..."}, ...]}. Each example is rendered with the model's chat template or a named format (prompt_format.h);
// RenderChatWithAssistantSpans gives the byte spans of the assistant replies (each reply with its end-of-turn
// marker). The text is encoded piece by piece — outside and inside the spans — so every token is either
// prompt (no loss) or reply (loss), and the pieces' tokens concatenated are the example's tokens. (Chat
// templates put special tokens or newlines at those boundaries, where tokenizers split anyway.)
//
// Windows hold T+1 tokens; the target of position t is token t+1 when that token belongs to a reply, else
// Model::kIgnoreIndex. Packed (default): examples are placed one after another into a window while they fit
// whole, and the rest of the window is padding; unpacked: one example per window. Padding (the tokenizer's
// pad id, else EOS) is never a target. An example longer than T+1 tokens is cut to T+1 (counted in stats()).
// Attention is not masked between examples packed into one window, as in standard packed fine-tuning.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "train/window_source.h"

namespace fm {

class ChatFormat;
class Tokenizer;

class ChatWindows : public WindowSource {
 public:
  struct Stats {
    int64_t examples = 0;          // lines with an assistant reply
    int64_t skipped = 0;           // lines without any assistant reply (nothing to learn)
    int64_t truncated = 0;         // examples cut to T+1 tokens
    int64_t tokens = 0;            // tokens of all examples (after truncation)
    int64_t assistant_tokens = 0;  // of which carry loss
  };

  // Reads `jsonl`, renders each example with `format` and encodes it with `tokenizer` (load both from the
  // model folder: Tokenizer::Load, ChatFormat::Load). Token ids must lie below `model_vocab` (the model's
  // embedding rows). Errors name the file and line.
  static Status Build(const std::string& jsonl, const Tokenizer& tokenizer, const ChatFormat& format,
                      int seq_len, bool pack, int64_t model_vocab, std::unique_ptr<ChatWindows>* out);

  uint64_t num_windows() const override { return tokens_.size() / (seq_len_ + 1); }
  int seq_len() const override { return seq_len_; }
  Status Read(uint64_t i, uint32_t* inputs, uint32_t* targets) const override;
  std::string Describe() const override;
  const Stats& stats() const { return stats_; }

 private:
  ChatWindows() = default;
  std::string path_, format_;
  int seq_len_ = 0;
  bool pack_ = true;
  std::vector<uint32_t> tokens_;  // (windows, T+1)
  std::vector<uint8_t> loss_;     // (windows, T+1): 1 where the token is part of a reply
  Stats stats_;
};

}  // namespace fm
