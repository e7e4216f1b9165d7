// Single-thread encode throughput of Hugging Face tokenizers (Rust, via @anush008/tokenizers).
// usage: node hf_encode.js TOKENIZER_JSON DOCS_JSON [MIN_SECONDS]
// Encodes one document at a time (awaiting each), so one tokenizer thread is busy at once; run
// with UV_THREADPOOL_SIZE=1 RAYON_NUM_THREADS=1 (bench/tokenizer/run does). Output as
// tokenizer_throughput's.
"use strict";
const fs = require("fs");
const path = require("path");
const { Tokenizer } = require(path.resolve(__dirname, "../../testdata/npm/node_modules/@anush008/tokenizers"));

async function main() {
  const [tokPath, docsPath, minArg] = process.argv.slice(2);
  const minSeconds = minArg ? Number(minArg) : 3;
  const t0 = process.hrtime.bigint();
  const tok = Tokenizer.fromFile(tokPath);
  const loadS = Number(process.hrtime.bigint() - t0) / 1e9;
  const docs = JSON.parse(fs.readFileSync(docsPath, "utf8"));
  const opts = { addSpecialTokens: true };
  const pass = async () => {
    let n = 0;
    for (const d of docs) n += (await tok.encode(d, null, opts)).getLength();
    return n;
  };
  await pass();
  let tokens = 0;
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  let elapsed = 0;
  do {
    tokens += await pass();
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  } while (elapsed < minSeconds);
  const used = process.cpuUsage(cpuStart);
  const cpu = (used.user + used.system) / 1e6;  // all of node's threads
  console.log(JSON.stringify({
    tokens_per_s: Math.round(tokens / elapsed),
    cpu_tokens_per_s: Math.round(tokens / cpu),
    tokens,
    seconds: elapsed,
    cpu_seconds: cpu,
    load_s: loadS,
  }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
