// Test oracle: encodes and decodes with the Rust Hugging Face tokenizers library (through the
// @anush008/tokenizers node binding installed by scripts/bootstrap into testdata/npm).
//
// usage: node oracle_encode.js REQUEST.json RESPONSE.json
// REQUEST:  {"tokenizer": "path/to/tokenizer.json", "patch": {top-level keys to replace} | null,
//            "inputs": ["<base64 bytes>", ...]}
// RESPONSE: {"error": null | "message", "results": [{"ids": [...], "ids_plain": [...],
//            "decoded": "...", "decoded_skip": "..."}]}
// Input bytes become a JavaScript string with Buffer#toString("utf8"), which replaces invalid
// UTF-8 with U+FFFD; that is the string the Rust library receives.
"use strict";
const fs = require("fs");
const path = require("path");

const modDir = path.resolve(__dirname, "../../testdata/npm/node_modules/@anush008/tokenizers");

async function main() {
  const [reqPath, respPath] = process.argv.slice(2);
  const req = JSON.parse(fs.readFileSync(reqPath, "utf8"));
  const out = { error: null, results: [] };
  let tok;
  try {
    const { Tokenizer } = require(modDir);
    let json = JSON.parse(fs.readFileSync(req.tokenizer, "utf8"));
    if (req.patch) Object.assign(json, req.patch);
    tok = Tokenizer.fromString(JSON.stringify(json));
  } catch (e) {
    out.error = String(e && e.message ? e.message : e);
    fs.writeFileSync(respPath, JSON.stringify(out));
    return;
  }
  for (const b64 of req.inputs) {
    const text = Buffer.from(b64, "base64").toString("utf8");
    const withSpecial = await tok.encode(text, null, { addSpecialTokens: true });
    const plain = await tok.encode(text, null, { addSpecialTokens: false });
    const ids = withSpecial.getIds();
    out.results.push({
      ids: ids,
      ids_plain: plain.getIds(),
      decoded: await tok.decode(ids, false),
      decoded_skip: await tok.decode(ids, true),
    });
  }
  fs.writeFileSync(respPath, JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
