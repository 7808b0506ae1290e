// Perplexity inputs: a text file (tokenized with the model's tokenizer, special tokens as the tokenizer adds
// them by default — no BOS unless the tokenizer adds one), a token shard file (tokenizer/token_shard.h), or a
// folder of token shards (every *.bin shard in name order, concatenated: documents continue across shards).
// Pass a single shard such as val_00000.bin to score only the validation split.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace fm {

class Tokenizer;

// Fills *tokens from `path` as described above. Shard token ids must be below `vocab_size` (the model's
// embedding rows); errors name the file.
Status LoadPerplexityTokens(const std::string& path, const Tokenizer& tok, uint32_t vocab_size,
                            std::vector<uint32_t>* tokens);

}  // namespace fm
