"""Builds the benchmark documents: lines of tests/tokenizer/corpus (the valid UTF-8 files),
shuffled with a fixed seed and packed into documents of about DOC_BYTES bytes.
usage: python3 make_docs.py CORPUS_DIR OUT_JSON [DOC_BYTES] [TOTAL_BYTES]"""
import json
import os
import random
import sys

corpus, out = sys.argv[1], sys.argv[2]
doc_bytes = int(sys.argv[3]) if len(sys.argv) > 3 else 16384
total = int(sys.argv[4]) if len(sys.argv) > 4 else 1 << 20
lines = []
for name in sorted(os.listdir(corpus)):
    if not name.endswith(".txt"):
        continue
    with open(os.path.join(corpus, name), encoding="utf-8", newline="") as f:
        lines += f.read().splitlines(keepends=True)
rng = random.Random(42)
docs, cur, cur_size, size = [], [], 0, 0
while size < total:
    rng.shuffle(lines)
    for line in lines:
        n = len(line.encode("utf-8"))
        cur.append(line)
        cur_size += n
        size += n
        if cur_size >= doc_bytes:
            docs.append("".join(cur))
            cur, cur_size = [], 0
        if size >= total:
            break
if cur:
    docs.append("".join(cur))
with open(out, "w", encoding="utf-8") as f:
    json.dump(docs, f, ensure_ascii=False)
