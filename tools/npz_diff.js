#!/usr/bin/env node
// npz_diff.js OUT.npz REF.npz — per common key: cosine, max|diff|, max|ref| and whether
// cosine >= 0.99999 and max|diff| <= 1e-4 * max|ref| (the executor's acceptance rule).
// Exit 1 when a key fails or REF has keys OUT lacks.
'use strict';
const fs = require('fs');
const { readNpz } = require('./npz.js');
const [outPath, refPath] = process.argv.slice(2);
const out = readNpz(fs.readFileSync(outPath), outPath), ref = readNpz(fs.readFileSync(refPath), refPath);
let bad = 0;
for (const [k, r] of Object.entries(ref)) {
  const o = out[k];
  if (!o) { console.log(`${k}: MISSING in ${outPath}`); bad++; continue; }
  let dot = 0, no = 0, nr = 0, md = 0, mr = 0;
  for (let i = 0; i < r.data.length; i++) {
    const a = Number(o.data[i]), b = Number(r.data[i]);
    dot += a * b; no += a * a; nr += b * b;
    md = Math.max(md, Math.abs(a - b)); mr = Math.max(mr, Math.abs(b));
  }
  const cos = no === 0 && nr === 0 ? 1 : dot / Math.sqrt(no * nr);
  const ok = cos >= 0.99999 && md <= 1e-4 * mr && o.data.length === r.data.length;
  if (!ok) bad++;
  console.log(`${k}: cos=${cos.toFixed(8)} max_diff=${md.toExponential(3)} max_ref=${mr.toExponential(3)} ${ok ? 'ok' : 'FAIL'}`);
}
process.exit(bad ? 1 : 0);
