#!/usr/bin/env node
// ort_reference.js — onnxruntime-node reference outputs for mixq's executor tests/bench.
//
//   node tools/ort_reference.js MODEL (--input IN.npz | --seed S [--shape [1,3,H,W]])
//        [--pattern text] [--save_input IN.npz] [-o REF.npz] [--threads N] [--repeat N]
//
// --seed: deterministic uniform [0,1) float32 input for every model input (dynamic dims
// from --shape, one shape per input separated by ';'). REF.npz: the graph outputs keyed by
// ONNX names. --repeat N: one warm-up then N timed runs; prints "latency_ms median=M min=m".
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');
const { readNpz, writeNpz, readNpy } = require('./npz.js');

function parseArgs(argv) {
  const a = { threads: 2, repeat: 0 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    if (k === '--input') a.input = v();
    else if (k === '--seed') a.seed = Number(v());
    else if (k === '--shape') a.shape = v();
    else if (k === '--pattern') a.pattern = v();
    else if (k === '--save_input') a.saveInput = v();
    else if (k === '-o') a.output = v();
    else if (k === '--threads') a.threads = Number(v());
    else if (k === '--repeat') a.repeat = Number(v());
    else if (!a.model) a.model = k;
    else throw new Error(`unknown argument ${k}`);
  }
  if (!a.model || (a.input === undefined && a.seed === undefined)) {
    console.error('usage: ort_reference.js MODEL (--input IN.npz | --seed S [--shape S]) [-o REF.npz]');
    process.exit(2);
  }
  return a;
}

function mulberry32(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// 'text' pattern: light noisy page with dark word-like bars (gives text detectors and
// recognizers real activations, unlike plain noise).
function drawText(data, shape, rnd) {
  const [n, c, h, w] = shape;
  for (let i = 0; i < data.length; i++) data[i] = 0.85 + 0.1 * data[i];
  const lineH = Math.max(4, Math.round(Math.min(h, 48) * 0.5));
  for (let b = 0; b < n; b++) {
    for (let y0 = Math.round(lineH * 0.4); y0 + lineH <= h; y0 += Math.round(lineH * 2)) {
      for (let x = Math.round(w * 0.03); x < w * 0.97;) {
        const len = Math.round(lineH * (0.3 + rnd() * 0.6));
        for (let ch = 0; ch < c; ch++)
          for (let y = y0; y < y0 + lineH; y++)
            for (let xx = x; xx < Math.min(w, x + len); xx++)
              if (rnd() < 0.7) data[((b * c + ch) * h + y) * w + xx] = 0.1 * rnd();
        x += len + Math.round(lineH * (0.2 + rnd() * 0.5));
      }
    }
  }
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(a.model, {
    intraOpNumThreads: a.threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  let arrays;
  if (a.input !== undefined) {
    const buf = fs.readFileSync(a.input);
    arrays = a.input.endsWith('.npy') ? { [session.inputNames[0]]: readNpy(buf, a.input) } : readNpz(buf, a.input);
  } else {
    const rnd = mulberry32(a.seed);
    const shapes = a.shape ? a.shape.split(';').map((s) => JSON.parse(s)) : [];
    arrays = {};
    session.inputNames.forEach((name, i) => {
      const meta = session.inputMetadata ? session.inputMetadata[i] : null;
      let shape = shapes[i];
      if (!shape) {
        shape = meta && meta.shape ? meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1)) : null;
        if (!shape) throw new Error(`input ${name}: pass --shape`);
      }
      const n = shape.reduce((x, y) => x * y, 1);
      const data = new Float32Array(n);
      for (let j = 0; j < n; j++) data[j] = rnd();
      if (a.pattern === 'text' && shape.length === 4) drawText(data, shape, rnd);
      arrays[name] = { dtype: 'float32', shape, data };
    });
  }
  const feeds = {};
  for (const name of session.inputNames) {
    const arr = arrays[name];
    if (!arr) throw new Error(`no array for input ${name}`);
    feeds[name] = new ort.Tensor(arr.dtype, arr.data, arr.shape);
  }
  if (a.saveInput) fs.writeFileSync(a.saveInput, writeNpz(arrays));
  const result = await session.run(feeds);
  if (a.output) {
    const out = {};
    for (const name of session.outputNames) {
      const t = result[name];
      out[name] = { dtype: t.type, shape: t.dims.map(Number), data: t.data };
    }
    fs.writeFileSync(a.output, writeNpz(out));
  }
  if (a.repeat > 0) {
    const ms = [];
    for (let i = 0; i < a.repeat; i++) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    ms.sort((x, y) => x - y);
    const median = ms.length % 2 ? ms[(ms.length - 1) / 2] : 0.5 * (ms[ms.length / 2 - 1] + ms[ms.length / 2]);
    console.log(`latency_ms median=${median.toFixed(3)} min=${ms[0].toFixed(3)} (threads=${a.threads})`);
  }
}

main().catch((e) => {
  console.error(`ort_reference: ${path.basename(process.argv[2] || '')}: ${e.message}`);
  process.exit(2);
});
