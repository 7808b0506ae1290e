// Test oracle for finmerge's C++ Jinja engine: renders chat templates with @huggingface/jinja, the engine
// transformers.js uses (test-only, never linked into the product).
//
//   node tests/oracle/jinja_render.mjs CASES.json > RESULTS.json
//
// CASES.json is a list of {"template": "...", "context": {...}}; the context holds the template variables
// (messages, add_generation_prompt, bos_token, eos_token, tools, enable_thinking, ...). RESULTS.json is a list
// of {"output": "..."} or {"error": "..."}, one per case, in order.
import { readFileSync } from "node:fs";
import { Template } from "@huggingface/jinja";

const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const results = cases.map((c) => {
  try {
    return { output: new Template(c.template).render(c.context) };
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
});
process.stdout.write(JSON.stringify(results));
