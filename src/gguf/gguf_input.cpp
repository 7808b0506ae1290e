#include "gguf/gguf_input.h"

#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "gguf/gguf_file.h"
#include "gguf/gguf_import.h"

namespace fm::gguf {

namespace fs = std::filesystem;

TemporaryModelFolder::~TemporaryModelFolder() {
  std::error_code ec;
  fs::remove_all(root_, ec);
}

bool IsGgufFile(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".gguf" || ext == ".GGUF") return true;
  std::ifstream in(path, std::ios::binary);
  uint32_t magic = 0;
  in.read(reinterpret_cast<char*>(&magic), 4);
  return in && magic == kMagic;
}

Status ResolveModelInput(const std::string& path, std::string* folder,
                         std::unique_ptr<TemporaryModelFolder>* keep) {
  if (!IsGgufFile(path)) {
    *folder = path;
    return Status::Ok();
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/finmerge-gguf-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    return Status::IOError(path + ": cannot create a temporary folder for the imported model in " + tmpl +
                           ": " + std::strerror(errno));
  }
  auto owner = std::make_unique<TemporaryModelFolder>(tmpl);
  const std::string dir = tmpl + "/" + fs::path(path).stem().string();
  ImportSummary sum;
  FM_RETURN_IF_ERROR(ImportGguf(path, dir, &sum));
  std::fprintf(stderr, "%s: imported as the temporary Hugging Face folder %s (%zu tensors%s)\n", path.c_str(),
               dir.c_str(), sum.tensors, sum.tokenizer ? ", tokenizer rebuilt" : ", no tokenizer");
  for (const std::string& n : sum.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  *folder = dir;
  *keep = std::move(owner);
  return Status::Ok();
}

}  // namespace fm::gguf
