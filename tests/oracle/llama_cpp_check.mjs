// llama.cpp oracle for finmerge's GGUF export (test-only): loads a GGUF through @fugood/llama.node, tokenizes
// prompts and runs greedy completions.
//
// usage: node llama_cpp_check.mjs REQUEST.json RESULT.json   (llama.cpp logs to stdout, so the result is a file)
//   REQUEST: {model, n_predict, cases: [{prompt, expected: [token ids finmerge generated]}]}
//   RESULT:  {cases: [{tokens: [llama.cpp's prompt ids], pieces: [generated token texts],
//                      expected_pieces: [llama.cpp's text of each expected id], stopped_eos}]}
// The K/V cache is kept in f32 and flash attention is off, so that with F32 weights llama.cpp rounds nothing
// beyond float summation order (its defaults store K and V as f16).
import { readFileSync, writeFileSync } from 'node:fs';
import { loadModel } from '@fugood/llama.node';

const req = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const ctx = await loadModel({ model: req.model, n_ctx: 512, n_gpu_layers: 0, n_threads: 2, cache_type_k: 'f32',
                              cache_type_v: 'f32', flash_attn_type: 'off' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Right after a completion returns, the next call can throw "Another completion is in progress": retry.
async function retry(fn) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= 50 || !String(e).includes('in progress')) throw e;
      await sleep(20);
    }
  }
}

const out = { cases: [] };
let seen = 0;  // completion_probabilities entries of the earlier completions
for (const c of req.cases) {
  const tok = await retry(() => ctx.tokenize(c.prompt));
  const res = await retry(() =>
    ctx.completion({ prompt: c.prompt, n_predict: req.n_predict, temperature: 0, top_k: 1, n_probs: 1,
                     ignore_eos: true }));
  // completion_probabilities accumulates across calls on one context: ours are the entries after `seen`. A
  // completion can end early (llama.cpp stops at an end-of-generation token such as Qwen's <|im_end|> even
  // with ignore_eos), so counting back n_predict entries would take some of the previous prompt's.
  const all = res.completion_probabilities || [];
  const probs = all.length >= seen ? all.slice(seen) : all;
  seen = all.length;
  const expected_pieces = [];
  for (const id of c.expected) expected_pieces.push(await retry(() => ctx.detokenize([id])));
  out.cases.push({ tokens: Array.from(tok.tokens), pieces: probs.map((p) => p.content), expected_pieces,
                  stopped_eos: !!res.stopped_eos });
}
await ctx.release();
writeFileSync(process.argv[3], JSON.stringify(out));
