// GGUF wherever a model folder is read: ResolveModelInput turns a .gguf file into a temporary Hugging Face
// folder (ImportGguf: config.json, model.safetensors with F32/F16/BF16 tensors kept and Q8_0 dequantised to
// F32, tokenizer.json / tokenizer_config.json rebuilt from the GGUF metadata) and passes folders through
// unchanged. The temporary folder lives under $TMPDIR (or /tmp) as long as the TemporaryModelFolder that owns
// it.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"

namespace fm::gguf {

// A folder removed (recursively) on destruction.
class TemporaryModelFolder {
 public:
  explicit TemporaryModelFolder(std::string root) : root_(std::move(root)) {}
  ~TemporaryModelFolder();
  TemporaryModelFolder(const TemporaryModelFolder&) = delete;
  TemporaryModelFolder& operator=(const TemporaryModelFolder&) = delete;

 private:
  std::string root_;
};

// True when `path` names a GGUF file: a regular file ending in ".gguf" or starting with the GGUF magic.
bool IsGgufFile(const std::string& path);

// `path` a model folder: *folder = path, *keep untouched. `path` a GGUF file: imported into a new temporary
// folder, *folder = that folder, *keep owns it (one line on stderr says so). Errors name the GGUF file.
Status ResolveModelInput(const std::string& path, std::string* folder,
                         std::unique_ptr<TemporaryModelFolder>* keep);

}  // namespace fm::gguf
