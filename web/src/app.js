// The page: load the model once, then solve what is in the text box (or ?q=<problem> on load).
// ?threads=N asks onnxruntime-web for N wasm threads; above 1 that needs a cross-origin-isolated
// page (COOP/COEP headers), so the default is 1 and the site works from any static server.
import * as ort from "./ort/ort.wasm.bundle.min.mjs";
import { Solver, formatNumber, pyRound6 } from "./edgemath.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const threads = Math.max(1, parseInt(params.get("threads") || "1", 10) || 1);
ort.env.wasm.wasmPaths = { wasm: new URL("./ort/ort-wasm-simd-threaded.wasm", import.meta.url).href };

const read = async (name) => {
  const r = await fetch(new URL(`./model/${name}`, import.meta.url));
  if (!r.ok) throw new Error(`model/${name}: HTTP ${r.status}`);
  return r.arrayBuffer();
};

function show(sol) {
  $("equation").textContent = sol.error && !sol.equation ? "" : sol.equation ?? "";
  $("answer").textContent = sol.answer === null || sol.error ? "" : formatNumber(pyRound6(sol.answer));
  $("latency-ms").textContent = sol.latency_ms.toFixed(1);
  $("error").textContent = sol.error ? `error: ${sol.error}` : "";
  $("warning").textContent = sol.warning ? `warning: ${sol.warning}` : "";
  document.body.dataset.state = sol.error ? "error" : "solved";
  document.body.dataset.solved = String(++solved); // how many solves so far: tests wait on it
}
let solved = 0;

async function main() {
  let solver;
  try {
    solver = await Solver.load(ort, read, { numThreads: threads });
  } catch (e) {
    $("status").textContent = "";
    $("error").textContent = `error: cannot load the model (${e.message})`;
    document.body.dataset.state = "failed";
    return;
  }
  const site = await fetch("site.json").then((r) => (r.ok ? r.json() : null)).catch(() => null);
  if (site) $("model").textContent = `model ${site.model.name} (${site.model.precision}), onnxruntime-web ${site.onnxruntime_web}, ${ort.env.wasm.numThreads} thread(s)`;
  const solve = async () => {
    document.body.dataset.state = "solving";
    show(await solver.solve($("problem").value));
  };
  window.edgemath = { solve: (text) => solver.solve(text), solver };
  $("form").addEventListener("submit", (ev) => { ev.preventDefault(); solve(); });
  $("solve").disabled = false;
  $("status").textContent = "";
  document.body.dataset.state = "ready";
  const q = params.get("q");
  if (q !== null) {
    $("problem").value = q;
    await solve();
  }
}

main();
