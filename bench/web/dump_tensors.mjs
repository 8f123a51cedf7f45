// Every float tensor of an ONNX graph (all made graph outputs by bench/web_first_divergence.py) as
// computed by onnxruntime-web's wasm in Node, one DIR/<name>.f32 each, shapes in DIR/meta.json.
//   node bench/web/dump_tensors.mjs MODEL.onnx IDS_JSON DIR [graphOptimizationLevel]
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
const [modelPath, idsJson, outDir, level] = process.argv.slice(2);
const dist = fileURLToPath(new URL("../../web/node_modules/onnxruntime-web/dist/", import.meta.url));
const ort = await import(join(dist, "ort.wasm.bundle.min.mjs"));
ort.env.wasm.wasmPaths = dist; ort.env.wasm.numThreads = 1;
const s = await ort.InferenceSession.create(new Uint8Array(await readFile(modelPath)), { executionProviders: ["wasm"], graphOptimizationLevel: level ?? "all" });
const ids = JSON.parse(idsJson), t = ids.length;
const out = await s.run({ input_ids: new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [1, t]), attention_mask: new ort.Tensor("int64", new BigInt64Array(t).fill(1n), [1, t]) });
const meta = {};
for (const [k, v] of Object.entries(out)) {
  if (v.type !== "float32") continue;
  meta[k] = v.dims; await writeFile(join(outDir, k.replace(/[^A-Za-z0-9_.-]/g, "_") + ".f32"), Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength));
}
await writeFile(join(outDir, "meta.json"), JSON.stringify(meta));
