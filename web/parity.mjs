// The JavaScript side of edgemath's parity check (edgemath/web.py `parity`), in Node, with the
// same onnxruntime-web file the site ships (ort.wasm.bundle.min.mjs + the plain SIMD wasm).
//   node web/parity.mjs MODEL_DIR INPUT.jsonl [--tokens-only | --hidden DIR]
// INPUT.jsonl: {"id", "text"} per line. Prints one JSON line per input: token ids, numbers and
// spans, and (without --tokens-only) the solution: prefix, equation, answer, error, margins.
// --hidden DIR: instead, the encoder's last_hidden_state per input, as DIR/<k>.f32 (k: line number).
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Solver, Tokenizer, encodeProblem } from "./src/edgemath.js";

const [modelDir, input, flag, hiddenDir] = process.argv.slice(2);
if (!modelDir || !input) {
  console.error("usage: node web/parity.mjs MODEL_DIR INPUT.jsonl [--tokens-only | --hidden DIR]");
  process.exit(1);
}
const tokensOnly = flag === "--tokens-only";
const read = (name) => readFile(join(modelDir, name));
const meta = JSON.parse(await readFile(join(modelDir, "solver.json"), "utf8"));
let solver = null, tok;
if (tokensOnly) {
  tok = new Tokenizer(JSON.parse(await readFile(join(modelDir, "tokenizer.json"), "utf8")));
} else {
  const dist = fileURLToPath(new URL("./node_modules/onnxruntime-web/dist/", import.meta.url));
  const ort = await import(join(dist, "ort.wasm.bundle.min.mjs"));
  ort.env.wasm.wasmPaths = dist;
  solver = await Solver.load(ort, read, { numThreads: 1 });
  tok = solver.tok;
}
const lines = (await readFile(input, "utf8")).split("\n").filter((l) => l.trim());
if (flag === "--hidden") {
  const { Tensor } = solver.ort;
  for (const [k, line] of lines.entries()) {
    const enc = solver.encode(JSON.parse(line).text), t = enc.ids.length;
    const out = await solver.sessions["encoder.onnx"].run({ input_ids: new Tensor("int64", BigInt64Array.from(enc.ids, BigInt), [1, t]),
      attention_mask: new Tensor("int64", new BigInt64Array(t).fill(1n), [1, t]) });
    await writeFile(join(hiddenDir, `${k}.f32`), Buffer.from(out.last_hidden_state.data.buffer));
  }
  process.exit(0);
}
const out = [];
for (const line of lines) {
  const { id, text } = JSON.parse(line);
  const enc = encodeProblem(tok, text, meta.max_length ?? 256, meta.percent_fraction ?? false);
  const row = { id, ids: enc.ids, numbers: enc.numbers.map((n) => [n.value, n.start, n.end, n.text, n.percent]),
    spans: enc.spans, truncated: enc.truncated };
  if (solver) {
    const s = await solver.solve(text);
    Object.assign(row, { prefix: s.prefix, equation: s.equation, answer: s.answer, error: s.error, warning: s.warning,
      margins: s.margins ?? null, picks: s.picks ?? null, latency_ms: s.latency_ms });
  }
  out.push(JSON.stringify(row));
  if (out.length >= 200) { process.stdout.write(out.join("\n") + "\n"); out.length = 0; }
}
if (out.length) process.stdout.write(out.join("\n") + "\n");
