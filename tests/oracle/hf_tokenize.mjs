// Test-only oracle: runs Hugging Face's tokenizer (the pure-JS @huggingface/tokenizers package) on a list of
// texts and prints the ids as JSON, for finmerge's conformance tests (tests/tokenizer/hf_conformance_test.cpp).
//
//   node hf_tokenize.mjs TOKENIZER_DIR INPUT.json
//
// INPUT.json: {"texts": ["...", ...], "add_special_tokens": false}
// stdout:     {"ids": [[...], ...], "decoded": ["...", ...]}   (decoded keeps special tokens, no clean-up)
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";

const [dir, input] = process.argv.slice(2);
if (!dir || !input) {
  console.error("usage: node hf_tokenize.mjs TOKENIZER_DIR INPUT.json");
  process.exit(2);
}
const tokenizerJson = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
const configPath = join(dir, "tokenizer_config.json");
const tokenizerConfig = existsSync(configPath) ? JSON.parse(readFileSync(configPath, "utf8")) : {};
const request = JSON.parse(readFileSync(input, "utf8"));
const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
const addSpecial = request.add_special_tokens ?? false;
const ids = [];
const decoded = [];
for (const text of request.texts) {
  const encoded = tokenizer.encode(text, { add_special_tokens: addSpecial }).ids;
  ids.push(encoded);
  decoded.push(
    encoded.length === 0
      ? ""
      : tokenizer.decode(encoded, { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
  );
}
process.stdout.write(JSON.stringify({ ids, decoded }));
