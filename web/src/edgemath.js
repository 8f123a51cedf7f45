// edgemath's on-device solver in JavaScript: the same behaviour as the Python runtime/
// (tokenize.py, numbers.py, expression.py, solver.py), for the browser and for Node.
//
//   text --> extractNumbers (numbers.py)            --> numbers, character spans
//        \-> Tokenizer.encode (tokenizer.json, as the `tokenizers` library does it)
//                                                   --> token ids, offsets --> number-token spans
//   encoder.onnx -> quantities.onnx -> step.onnx x greedy steps (solver.py) --> equation tree
//   evaluate (expression.py, no eval) --> answer
//
// Positions are counted in Unicode code points, as Python strings (and the Python bindings
// of `tokenizers`) count them, never in JavaScript's UTF-16 units. onnxruntime is passed in
// (`ort`), so this file imports only its Unicode tables and runs unchanged in a page and in Node.

import { CONTROL, MARK, PUNCT, SPACE, PY_ALNUM, PY_DECIMAL, PY_DIGIT, PY_SPACE as PY_SPACE_RANGES } from "./unicode-tables.js";

// --- Unicode classes, spelled as Python and Rust define them ------------------------------------

// The classes `tokenizers` itself uses (its compiled-in Unicode tables, older than any JavaScript
// engine's: ~650 characters added since differ), generated from the library by web/gen_tables.py.

function inRanges(flat, cp) { // flat: [first0, last0, first1, last1, ...], sorted
  let lo = 0, hi = flat.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < flat[2 * mid]) hi = mid - 1;
    else if (cp > flat[2 * mid + 1]) lo = mid + 1;
    else return true;
  }
  return false;
}
const cls = (flat) => ({ test: (c) => inRanges(flat, c.codePointAt(0)) });
const RUST_SPACE = cls(SPACE); // char::is_whitespace: where BertPreTokenizer splits
const OTHER = cls(CONTROL); // is_control: what clean_text removes (besides NUL and U+FFFD)
const BERT_PUNCT = cls(PUNCT); // is_bert_punc: what BertPreTokenizer isolates
const MARK_NONSPACING = cls(MARK); // Mn: what strip_accents removes after NFD

// runtime/numbers.py's classes, from the Python that generated the tables (its Unicode version):
// `\d` and str.isdecimal, str.isdigit, str.isalnum, `\s` / str.isspace / str.strip.
const charClass = (flat) => { // a regex character class for the ranges
  const hex = (cp) => `\\u{${cp.toString(16)}}`;
  let out = "";
  for (let k = 0; k < flat.length; k += 2) out += flat[k] === flat[k + 1] ? hex(flat[k]) : `${hex(flat[k])}-${hex(flat[k + 1])}`;
  return out;
};
const PY_SPACE = charClass(PY_SPACE_RANGES);
const D_CLASS = charClass(PY_DECIMAL);
const ND = cls(PY_DECIMAL);
const ALNUM = cls(PY_ALNUM);
const PY_DIGIT_TEST = cls(PY_DIGIT);

const isPySpace = (c) => inRanges(PY_SPACE_RANGES, c.codePointAt(0));
const isPyDigit = (c) => PY_DIGIT_TEST.test(c);

function pyStrip(s, left = true) { // str.strip() (left=false: str.rstrip())
  const cps = Array.from(s);
  let a = 0, b = cps.length;
  while (left && a < b && isPySpace(cps[a])) a++;
  while (b > a && isPySpace(cps[b - 1])) b--;
  return cps.slice(a, b).join("");
}

// A decimal digit's value: Unicode encodes every Nd digit in runs 0..9, so the value is the
// count of Nd characters before it in its run, modulo 10.
function asciiDigits(s) {
  let out = "";
  for (const c of s) {
    if (c >= "0" && c <= "9") { out += c; continue; }
    if (!ND.test(c)) { out += c; continue; }
    let cp = c.codePointAt(0), k = 0;
    while (ND.test(String.fromCodePoint(cp - 1))) { cp--; k++; }
    out += String(k % 10);
  }
  return out;
}
const pyFloat = (s) => parseFloat(asciiDigits(s));

// --- number extraction (runtime/numbers.py) ------------------------------------------------------

const D = `[${D_CLASS}]`, DC = D_CLASS; // Python's \d on str patterns (DC: inside a class)
const NUMBER = new RegExp(
  "(?<![A-Za-z0-9_.])" +
  `(?<sign>-(?=[${DC}.(]))?` +
  "(?:" +
  `(?<!/)(?<mixed_whole>${D}+)[${PY_SPACE}]+(?<mixed_num>${D}+)/(?<mixed_den>${D}+)(?![${DC}/])` +
  `|(?<pmixed_whole>${D}+)\\((?<pmixed_num>${D}+)/(?<pmixed_den>${D}+)\\)` +
  `|\\((?<pnum>${D}+(?:\\.${D}+)?)/(?<pden>${D}+(?:\\.${D}+)?)\\)` +
  `|(?<!/)(?<num>${D}+)/(?<den>${D}+)(?![${DC}/]|\\.${D})` +
  `|(?<thousands>${D}{1,3}(?:,${D}{3})+(?:\\.${D}+)?)(?![${DC},]*${D})` +
  `|(?<decimal>${D}*\\.${D}+|${D}+(?:\\.${D}+)?)` +
  ")" +
  "(?<percent>%)?",
  "gu",
);

// UTF-16 index -> code point index, for every position of s (and its end).
function codePointIndex(s) {
  const map = new Int32Array(s.length + 1);
  let cp = 0;
  for (let i = 0; i < s.length; i++) {
    map[i] = cp;
    const u = s.charCodeAt(i);
    if (u >= 0xd800 && u <= 0xdbff && i + 1 < s.length) {
      const v = s.charCodeAt(i + 1);
      if (v >= 0xdc00 && v <= 0xdfff) { map[i + 1] = cp; i++; }
    }
    cp++;
  }
  map[s.length] = cp;
  return map;
}

// A "-" is a sign unless it reads as a binary minus: glued to a word ("a-4") or after a value.
function signAllowed(text, start) { // start: UTF-16 index of the "-"
  const before = text.slice(0, start);
  const last = Array.from(before).pop();
  if (last !== undefined && ALNUM.test(last)) return false;
  const prev = Array.from(pyStrip(before, false));
  if (!prev.length) return true;
  const p = prev[prev.length - 1];
  return !(isPyDigit(p) || ").%".includes(p));
}

/** All numbers in `text` in order: {value, start, end, text, percent}; start/end in code points.
 * With `percentFraction` (solver.json's percent_fraction) a percent's value is its fraction. */
export function extractNumbers(text, percentFraction = false) {
  const cpi = codePointIndex(text);
  const out = [];
  for (const m of text.matchAll(NUMBER)) {
    const g = m.groups;
    let value;
    const whole = g.mixed_whole ?? g.pmixed_whole;
    if (whole !== undefined) {
      const [num, den] = g.mixed_whole !== undefined ? [g.mixed_num, pyFloat(g.mixed_den)] : [g.pmixed_num, pyFloat(g.pmixed_den)];
      if (den === 0) continue;
      value = pyFloat(whole) + pyFloat(num) / den;
    } else if (g.pnum !== undefined) {
      const den = pyFloat(g.pden);
      if (den === 0) continue;
      value = pyFloat(g.pnum) / den;
    } else if (g.num !== undefined) {
      const den = pyFloat(g.den);
      if (den === 0) continue;
      value = pyFloat(g.num) / den;
    } else if (g.thousands !== undefined) {
      value = pyFloat(g.thousands.replaceAll(",", ""));
    } else {
      value = pyFloat(g.decimal);
    }
    let start = m.index;
    const end = m.index + m[0].length;
    if (g.sign !== undefined) {
      if (signAllowed(text, start)) value = -value;
      else start += 1;
    }
    if (percentFraction && g.percent !== undefined) value /= 100;
    if (!Number.isFinite(value)) continue;
    out.push({ value, start: cpi[start], end: cpi[end], text: text.slice(start, end), percent: g.percent !== undefined });
  }
  return out;
}

// --- Python's number printing ---------------------------------------------------------------------

/** Python's repr(float): shortest round-trip digits, exponent below 1e-4 and from 1e16. */
export function pyRepr(x) {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mant, e] = x.toExponential().split("e");
  const exp = parseInt(e, 10);
  const sign = mant.startsWith("-") ? "-" : "";
  const digits = mant.replace("-", "").replace(".", "");
  if (exp >= -5 + 1 && exp < 16) { // -4 <= exp < 16: fixed notation
    let s;
    if (exp >= 0) {
      const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
      const frac = digits.slice(exp + 1);
      s = intPart + "." + (frac || "0");
    } else {
      s = "0." + "0".repeat(-exp - 1) + digits;
    }
    return sign + s;
  }
  const m = digits.length > 1 ? digits[0] + "." + digits.slice(1) : digits;
  const es = (exp < 0 ? "-" : "+") + String(Math.abs(exp)).padStart(2, "0");
  return `${sign}${m}e${es}`;
}

/** runtime.numbers.format_number: 56.0 -> "56", 0.5 -> "0.5". */
export function formatNumber(value) {
  if (Number.isFinite(value) && value === Math.trunc(value) && Math.abs(value) < 1e15) return String(Math.trunc(value) || 0);
  return pyRepr(value);
}

/** Python's round(x, 6): correctly rounded, exact ties to even. */
export function pyRound6(x) {
  if (!Number.isFinite(x) || Math.abs(x) >= 1e15) return x;
  const up = Number(x.toFixed(6)); // nearest; an exact tie goes away from zero in magnitude
  const exact = x.toFixed(30);
  const tail = exact.slice(exact.indexOf(".") + 7);
  if (/^50*$/.test(tail)) { // an exact tie: Python keeps the even neighbour
    const lastDigit = parseInt(x.toFixed(6).slice(-1), 10);
    if (lastDigit % 2 === 1) return Number((Math.sign(x) * (Math.abs(up) - 1e-6)).toFixed(6));
  }
  return up;
}

// --- equations (runtime/expression.py) ------------------------------------------------------------

export class ExpressionError extends Error {}

const OPERATORS = ["+", "-", "*", "/", "^"];
const MAX_ABS = 1e15; // beyond this a word-problem answer is an overflow, not an answer
// Leaves are the slots the decoder makes (n0, n1, ...) and solver.json's constants ("100", "0.5").
const isSlot = (leaf) => /^n[0-9]+$/.test(leaf);
const slotIndex = (leaf) => parseInt(leaf.slice(1), 10);
const leafValue = (tok) => (/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[+-]?[0-9]+)?$/i.test(tok) ? Number(tok) : NaN);

/** A tree is a leaf string or [op, left, right]. */
export function toPrefix(tree) {
  return typeof tree === "string" ? [tree] : [tree[0], ...toPrefix(tree[1]), ...toPrefix(tree[2])];
}

/** The value of `tree` with slots bound to `numbers`; ExpressionError says why not. */
export function evaluate(tree, numbers) {
  if (typeof tree === "string") {
    if (isSlot(tree)) {
      const i = slotIndex(tree);
      if (i >= numbers.length) throw new ExpressionError(`slot ${tree} but the problem has ${numbers.length} numbers`);
      return numbers[i];
    }
    const v = leafValue(tree);
    if (!Number.isFinite(v)) throw new ExpressionError(`unknown token '${tree}'`);
    return v;
  }
  if (!(Array.isArray(tree) && tree.length === 3 && OPERATORS.includes(tree[0]))) throw new ExpressionError(`malformed tree node ${JSON.stringify(tree)}`);
  const [op, a, b] = tree;
  const x = evaluate(a, numbers), y = evaluate(b, numbers);
  let r;
  if (op === "+") r = x + y;
  else if (op === "-") r = x - y;
  else if (op === "*") r = x * y;
  else if (op === "/") {
    if (y === 0) throw new ExpressionError("division by zero");
    r = x / y;
  } else {
    if (x === 0 && y < 0) throw new ExpressionError("zero to a negative power");
    if (Math.abs(y) > 64 || (x < 0 && y !== Math.trunc(y))) throw new ExpressionError(`power ${pyRepr(x)}^${pyRepr(y)} is out of range`);
    r = x ** y; // Python's x**y is C's pow(); V8's may differ in the last bit
  }
  if (!Number.isFinite(r) || Math.abs(r) > MAX_ABS) throw new ExpressionError("overflow");
  return r;
}

const PREC = { "+": 1, "-": 1, "*": 2, "/": 2, "^": 3 };

/** Readable infix with minimal brackets; slots shown as their numbers. */
export function toInfix(tree, numbers = null) {
  const leaf = (t) => (numbers !== null && isSlot(t) && slotIndex(t) < numbers.length ? formatNumber(numbers[slotIndex(t)]) : t);
  const walk = (t, parent, right) => {
    if (typeof t === "string") return leaf(t);
    const [op, a, b] = t;
    const p = PREC[op];
    const s = `${walk(a, p, false)} ${op} ${walk(b, p, true)}`;
    return p < parent || (right && p === parent && "-/^".includes(op)) ? `(${s})` : s;
  };
  return walk(tree, 0, false);
}

// --- the tokenizer, read from tokenizer.json --------------------------------------------------

export class TokenizerError extends Error {}

function isChinese(cp) {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

/**
 * BERT WordPiece as `tokenizers` runs a tokenizer.json: added (special) tokens matched on the raw
 * text first, then BertNormalizer, BertPreTokenizer, WordPiece, and the TemplateProcessing of a
 * single sequence. Anything else in the file is refused, never approximated.
 */
export class Tokenizer {
  constructor(spec) {
    const fail = (what) => { throw new TokenizerError(`tokenizer.json: ${what}; the browser runtime reads BERT WordPiece tokenizers only`); };
    const model = spec.model || {};
    if (model.type !== "WordPiece") fail(`model ${model.type}`);
    const norm = spec.normalizer;
    if (norm && norm.type !== "BertNormalizer") fail(`normalizer ${norm.type}`);
    if (spec.pre_tokenizer && spec.pre_tokenizer.type !== "BertPreTokenizer") fail(`pre-tokenizer ${spec.pre_tokenizer.type}`);
    const post = spec.post_processor;
    if (post && post.type !== "TemplateProcessing") fail(`post-processor ${post.type}`);
    if (spec.truncation || spec.padding) { /* switched off by the runtime, as ProblemTokenizer does */ }
    this.norm = norm ? { clean: norm.clean_text !== false, chinese: norm.handle_chinese_chars !== false,
      lower: norm.lowercase !== false, strip: norm.strip_accents ?? (norm.lowercase !== false) } : null;
    this.split = !!spec.pre_tokenizer;
    this.vocab = new Map(Object.entries(model.vocab));
    this.unk = model.unk_token;
    this.prefix = model.continuing_subword_prefix ?? "##";
    this.maxChars = model.max_input_chars_per_word ?? 100;
    if (!this.vocab.has(this.unk)) fail(`unknown token ${this.unk} not in the vocabulary`);
    this.added = [];
    for (const t of spec.added_tokens || []) {
      if (t.single_word || t.lstrip || t.rstrip || t.normalized) fail(`added token ${t.content} with single_word/lstrip/rstrip/normalized`);
      this.added.push({ content: Array.from(t.content), id: t.id });
    }
    this.added.sort((a, b) => b.content.length - a.content.length); // longest first: leftmost-longest
    this.template = [];
    if (post) {
      for (const piece of post.single) {
        if (piece.Sequence) this.template.push(null);
        else this.template.push(post.special_tokens[piece.SpecialToken.id].ids[0]);
      }
    } else this.template.push(null);
  }

  tokenToId(name) { return this.vocab.get(name) ?? this.added.find((t) => t.content.join("") === name)?.id; }

  /** {ids, offsets}: offsets are [start, end) in code points of `text`; specials get [0, 0]. */
  encode(text) {
    const cps = Array.from(text);
    const ids = [], offsets = [];
    let seg = 0, p = 0;
    while (p < cps.length) {
      const hit = this._addedAt(cps, p);
      if (hit) {
        this._encodeSegment(cps, seg, p, ids, offsets);
        ids.push(hit.id); offsets.push([p, p + hit.content.length]);
        p += hit.content.length; seg = p;
      } else p++;
    }
    this._encodeSegment(cps, seg, cps.length, ids, offsets);
    const outIds = [], outOff = [];
    for (const t of this.template) {
      if (t === null) { outIds.push(...ids); outOff.push(...offsets); } else { outIds.push(t); outOff.push([0, 0]); }
    }
    return { ids: outIds, offsets: outOff };
  }

  _addedAt(cps, p) {
    for (const t of this.added) {
      const c = t.content;
      if (!c.length || p + c.length > cps.length) continue;
      let ok = true;
      for (let k = 0; k < c.length && ok; k++) ok = cps[p + k] === c[k];
      if (ok) return t;
    }
    return null;
  }

  // Normalized characters, each with the index of the original character it came from.
  _normalize(cps, a, b) {
    let chars = [];
    for (let i = a; i < b; i++) chars.push([cps[i], i]);
    const n = this.norm;
    if (!n) return chars;
    if (n.clean) {
      chars = chars.filter(([c]) => { const cp = c.codePointAt(0); return !(cp === 0 || cp === 0xfffd || OTHER.test(c)); })
        .map(([c, o]) => [c === "\t" || c === "\n" || c === "\r" || RUST_SPACE.test(c) ? " " : c, o]);
    }
    if (n.chinese) chars = chars.flatMap(([c, o]) => (isChinese(c.codePointAt(0)) ? [[" ", o], [c, o], [" ", o]] : [[c, o]]));
    if (n.strip) chars = chars.flatMap(([c, o]) => Array.from(c.normalize("NFD")).filter((d) => !MARK_NONSPACING.test(d)).map((d) => [d, o]));
    if (n.lower) chars = chars.flatMap(([c, o]) => Array.from(c.toLowerCase()).map((d) => [d, o]));
    return chars;
  }

  _encodeSegment(cps, a, b, ids, offsets) {
    if (a >= b) return;
    const chars = this._normalize(cps, a, b);
    const words = [];
    let cur = [];
    for (const ch of chars) {
      const c = ch[0];
      if (this.split && RUST_SPACE.test(c)) { if (cur.length) words.push(cur); cur = []; }
      else if (this.split && BERT_PUNCT.test(c)) { if (cur.length) words.push(cur); words.push([ch]); cur = []; }
      else cur.push(ch);
    }
    if (cur.length) words.push(cur);
    for (const w of words) this._wordpiece(w, ids, offsets);
  }

  _wordpiece(word, ids, offsets) {
    const span = (s, e) => [word[s][1], word[e - 1][1] + 1];
    const unk = () => { ids.push(this.vocab.get(this.unk)); offsets.push(span(0, word.length)); };
    if (word.length > this.maxChars) return unk();
    const chars = word.map((x) => x[0]);
    const pieces = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length, found = null;
      while (start < end) {
        let sub = chars.slice(start, end).join("");
        if (start > 0) sub = this.prefix + sub;
        const id = this.vocab.get(sub);
        if (id !== undefined) { found = [id, start, end]; break; }
        end--;
      }
      if (!found) return unk();
      pieces.push(found);
      start = end;
    }
    for (const [id, s, e] of pieces) { ids.push(id); offsets.push(span(s, e)); }
  }
}

/** runtime.tokenize.ProblemTokenizer.encode: ids (truncated to maxLength), numbers, spans. */
export function encodeProblem(tok, text, maxLength = 256, percentFraction = false) {
  const numbers = extractNumbers(text, percentFraction);
  let { ids, offsets } = tok.encode(text);
  const truncated = ids.length > maxLength;
  if (truncated) { // keep the opening special ... and the closing one
    ids = ids.slice(0, maxLength - 1).concat(ids.slice(-1));
    offsets = offsets.slice(0, maxLength - 1).concat([[0, 0]]);
  }
  const spans = numbers.map((n) => {
    let first = -1, last = -1;
    offsets.forEach(([s, e], i) => { if (e > s && s < n.end && e > n.start) { if (first < 0) first = i; last = i; } });
    return first < 0 ? [0, 0] : [first, last + 1];
  });
  return { ids, numbers, spans, truncated };
}

// --- the solver (runtime/solver.py, greedy decoding at batch 1) -----------------------------------

export const GRAPHS = ["encoder.onnx", "quantities.onnx", "step.onnx"];

export class Solver {
  /**
   * @param ort onnxruntime-web's module
   * @param read async name -> ArrayBuffer | Uint8Array (the export directory's files) or string for JSON
   * @param options {numThreads}
   */
  static async load(ort, read, options = {}) {
    const text = async (name) => { const b = await read(name); return typeof b === "string" ? b : new TextDecoder().decode(b); };
    const meta = JSON.parse(await text("solver.json"));
    const tok = new Tokenizer(JSON.parse(await text("tokenizer.json")));
    if (options.numThreads !== undefined) ort.env.wasm.numThreads = options.numThreads;
    const opts = { executionProviders: ["wasm"], graphOptimizationLevel: "all" };
    const sessions = {};
    for (const g of GRAPHS) {
      const bytes = await read(g);
      sessions[g] = await ort.InferenceSession.create(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes), opts);
    }
    return new Solver(ort, sessions, meta, tok);
  }

  constructor(ort, sessions, meta, tok) {
    this.ort = ort;
    this.sessions = sessions;
    this.ops = meta.ops;
    this.constants = meta.constants;
    this.maxSteps = meta.max_steps;
    this.maxNumbers = meta.max_numbers ?? 24;
    this.maxLength = meta.max_length ?? 256;
    this.percentFraction = meta.percent_fraction ?? false;
    this.tok = tok;
    this.padId = tok.tokenToId("[PAD]") ?? tok.tokenToId("<pad>") ?? 0;
    this.wantsTokenTypes = sessions["encoder.onnx"].inputNames.includes("token_type_ids");
  }

  encode(text) { return encodeProblem(this.tok, text, this.maxLength, this.percentFraction); }

  /** Greedy deductive decoding of one encoded problem: {tree, margins, picks}: per step, the top-1
   * minus top-2 score and the flat (op, i, j) index picked. */
  async decode(enc) {
    const { Tensor } = this.ort;
    const t = enc.ids.length, n = Math.max(1, enc.numbers.length);
    const feed = {
      input_ids: new Tensor("int64", BigInt64Array.from(enc.ids, BigInt), [1, t]),
      attention_mask: new Tensor("int64", new BigInt64Array(t).fill(1n), [1, t]),
    };
    if (this.wantsTokenTypes) feed.token_type_ids = new Tensor("int64", new BigInt64Array(t), [1, t]);
    const hidden = (await this.sessions["encoder.onnx"].run(feed)).last_hidden_state;
    const pool = new Float32Array(n * t), numMask = new Uint8Array(n);
    enc.spans.forEach(([s, e], x) => {
      if (e > s) { for (let k = s; k < e; k++) pool[x * t + k] = 1 / (e - s); numMask[x] = 1; }
    });
    const qs = await this.sessions["quantities.onnx"].run({ hidden, pool: new Tensor("float32", pool, [1, n, t]),
      num_mask: new Tensor("bool", numMask, [1, n]) });
    let q = qs.q.data, qmask = qs.q_mask.data;
    const d = qs.q.dims[2];
    let m = qs.q.dims[1];
    const trees = [];
    for (let k = 0; k < n; k++) trees.push(`n${k}`);
    trees.push(...this.constants);
    const margins = [], picks = [];
    for (let step = 0; step < this.maxSteps; step++) {
      const out = await this.sessions["step.onnx"].run({ q: new Tensor("float32", q, [1, m, d]), q_mask: new Tensor("bool", qmask, [1, m]) });
      const scores = out.scores.data;
      let best = 0, second = -Infinity;
      for (let k = 1; k < scores.length; k++) {
        if (scores[k] > scores[best] || (Number.isNaN(scores[k]) && !Number.isNaN(scores[best]))) { second = scores[best]; best = k; }
        else if (scores[k] > second) second = scores[k];
      }
      margins.push(scores[best] - second);
      picks.push(best);
      const op = Math.floor(best / (m * m)), rest = best % (m * m), i = Math.floor(rest / m), j = rest % m;
      const node = [this.ops[op], trees[i], trees[j]];
      trees.push(node);
      if (out.stop.data[best] > 0 || step === this.maxSteps - 1) return { tree: node, margins, picks };
      const nq = new Float32Array((m + 1) * d);
      nq.set(q.subarray(0, m * d));
      nq.set(out.cand.data.subarray(best * d, best * d + d), m * d);
      const nmask = new Uint8Array(m + 1);
      nmask.set(qmask.subarray(0, m));
      nmask[m] = 1;
      q = nq; qmask = nmask; m += 1;
    }
    throw new Error("max_steps must be at least 1");
  }

  /** runtime.solver.OnnxSolver.solve_one: {equation, prefix, answer, latency_ms, error, warning}. */
  async solve(text) {
    const t0 = performance.now();
    const sol = { text, equation: null, prefix: null, answer: null, latency_ms: 0, error: null, warning: null };
    if (typeof text !== "string" || !pyStrip(text)) { sol.error = "empty text"; return sol; }
    const enc = this.encode(text);
    if (!enc.numbers.length) { sol.error = "no numbers in the text"; return sol; }
    if (enc.numbers.length > this.maxNumbers) {
      sol.error = `more numbers (${enc.numbers.length}) than the model's ${this.maxNumbers} number slots`;
      return sol;
    }
    if (enc.truncated) sol.warning = `text longer than ${this.maxLength} tokens: truncated`;
    if (!enc.spans.some(([s, e]) => e > s)) { sol.error = "every number lies beyond the model's length limit"; return sol; }
    const { tree, margins, picks } = await this.decode(enc);
    const nums = enc.numbers.map((x) => x.value);
    sol.prefix = toPrefix(tree).join(" ");
    sol.equation = toInfix(tree, nums);
    sol.margins = margins;
    sol.picks = picks;
    try {
      sol.answer = evaluate(tree, nums);
    } catch (e) {
      if (!(e instanceof ExpressionError)) throw e;
      sol.error = `the predicted equation cannot be evaluated: ${e.message}`;
    }
    sol.latency_ms = performance.now() - t0;
    return sol;
  }
}
