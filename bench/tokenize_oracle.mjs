// Competitor of bench/tokenize.sh: Hugging Face's tokenizer (pure-JS @huggingface/tokenizers) on the same text,
// document by document (blank-line separated), one core. Prints "MB/s tokens".
//   node bench/tokenize_oracle.mjs TOKENIZER_DIR FILE
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(new URL("../tests/oracle/package.json", import.meta.url));
const { Tokenizer } = require("@huggingface/tokenizers");
const [dir, file] = process.argv.slice(2);
const tj = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
const cfgPath = join(dir, "tokenizer_config.json");
const tc = existsSync(cfgPath) ? JSON.parse(readFileSync(cfgPath, "utf8")) : {};
const tok = new Tokenizer(tj, tc);
const text = readFileSync(file, "utf8");
const docs = text.split(/\n\s*\n/);
const t0 = process.hrtime.bigint();
let tokens = 0;
for (const d of docs) tokens += tok.encode(d, { add_special_tokens: false }).ids.length;
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`${(Buffer.byteLength(text) / 1e6 / secs).toFixed(2)} ${tokens}`);
