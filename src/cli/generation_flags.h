// Flags shared by `finmerge generate` and `finmerge chat`: the model, its chat format and precision, and the
// sampling options of GenerateOptions.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "eval/language_model.h"
#include "model/model.h"

namespace fm::cli {

struct GenerationFlags {
  std::string model;
  LanguageModelOptions lm;
  GenerateOptions gen;
  bool ignore_eos = false;
};

inline void AddGenerationFlags(CLI::App& sub, GenerationFlags* f) {
  sub.add_option("--model", f->model, "Hugging Face model folder (weights, config.json, tokenizer)")
      ->required();
  sub.add_option(
      "--chat-format", f->lm.chat_format,
      "Named chat format instead of the folder's chat template (alpaca-ja, alpaca, chatml, llama3)");
  sub.add_option("--precision", f->lm.precision, "fp32, bf16 or auto (bf16 where the CPU has native bf16)")
      ->capture_default_str();
  sub.add_option("--max-context", f->lm.max_context,
                 "Context length in tokens (default: max_position_embeddings, at most 4096)");
  sub.add_option("--max-new-tokens", f->gen.max_new_tokens, "Tokens to generate at most")
      ->capture_default_str();
  sub.add_option("--temperature", f->gen.temperature, "0 = greedy; otherwise sample at this temperature")
      ->capture_default_str();
  sub.add_option("--top-k", f->gen.top_k, "Sample from the k most likely tokens (0 = off)");
  sub.add_option("--top-p", f->gen.top_p, "Sample from the smallest set reaching this probability (1 = off)");
  sub.add_option("--repetition-penalty", f->gen.repetition_penalty,
                 "CTRL-style penalty on seen tokens (1 = off)");
  sub.add_option("--seed", f->gen.seed, "Random seed for sampling");
  sub.add_option("--stop", f->gen.stop_strings, "Stop before this text (repeatable)");
  sub.add_flag("--ignore-eos", f->ignore_eos, "Keep generating past end-of-sequence tokens (benchmarks)");
}

// Loads the model, printing what it does on stderr.
inline Status LoadForGeneration(GenerationFlags* f, std::unique_ptr<LanguageModel>* out) {
  f->gen.stop_at_eos = !f->ignore_eos;
  std::fprintf(stderr, "loading %s ...\n", f->model.c_str());
  const auto t0 = std::chrono::steady_clock::now();
  FM_RETURN_IF_ERROR(LanguageModel::Load(f->model, f->lm, out));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "loaded %.1fM parameters (%s, context %d) in %.1f s\n",
               static_cast<double>((*out)->model().num_parameters()) / 1e6,
               (*out)->model().precision() == Precision::kBF16 ? "bf16" : "fp32", (*out)->context_length(),
               secs);
  return Status::Ok();
}

}  // namespace fm::cli
