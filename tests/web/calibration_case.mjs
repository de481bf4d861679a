// The calibration part of the browser e2e test: fastestdet.onnx with 3 COCO images added
// through window.mixq.addCalibrationData, calibrate({cali_method:max, input_num:2, ...})
// while the page keeps drawing frames, then exportCaliTable() must be TPU-MLIR's format
// (header, a row for the input and for a Conv) and match the table the native CLI
// `mixq calibrate --dataset` writes for the same files and options (when the native CLI
// binary is given and built): header (apart from the generated time), row names and order
// and the input row byte-equal, every number within 1e-5 relative (wasm and native FP32
// kernels sum in different orders, so inference results differ in the last bits).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export async function runCalibrationCase(page, { check, artifacts, sharedDir, nativeCli }) {
  const model = sharedDir && path.join(sharedDir, 'models/fastestdet.onnx');
  const imageDir = sharedDir && path.join(sharedDir, 'calib/coco40');
  if (!model || !fs.existsSync(model) || !fs.existsSync(imageDir)) {
    console.log(`SKIPPED calibration case: ${model} or ${imageDir} is absent`);
    return;
  }
  const images = fs.readdirSync(imageDir).filter((f) => /\.jpe?g$/i.test(f)).sort().slice(0, 3);
  const s = JSON.parse(await page.evaluate((b) => window.mixq.loadModel(new Uint8Array(b), 'fastestdet.onnx'),
                                           [...fs.readFileSync(model)]));
  check(s.model === 'fastestdet.onnx', 'fastestdet.onnx opens for calibration');
  const bad = await page.evaluate(() => { try { window.mixq.addCalibrationData('notes.txt', new Uint8Array([1])); return ''; } catch (e) { return e.message; } });
  check(bad.includes('notes.txt'), `addCalibrationData rejects a non-image with its name: "${bad}"`);
  let files = 0;
  for (const f of images) {
    files = await page.evaluate(([n, b]) => window.mixq.addCalibrationData(n, new Uint8Array(b)), [f, [...fs.readFileSync(path.join(imageDir, f))]]);
  }
  check(files === images.length, `addCalibrationData holds ${files} images`);
  const badOpt = await page.evaluate(() => window.mixq.calibrate({ calimethod: 'max' }).then(() => '', (e) => e.message));
  check(badOpt.includes("unknown option 'calimethod'"), `calibrate rejects an unknown option: "${badOpt}"`);

  const options = { cali_method: 'max', input_num: 2, resize_dims: '352,352', scale: '0.0039216,0.0039216,0.0039216' };
  // Count animation frames while the calibration runs: the page must keep drawing.
  const run = await page.evaluate(async (o) => {
    let frames = 0, maxGap = 0, last = performance.now(), running = true;
    const tick = (now) => { frames++; maxGap = Math.max(maxGap, now - last); last = now; if (running) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    const t0 = performance.now();
    let settled = false;
    const pending = window.mixq.calibrate(o);
    pending.then(() => { settled = true; }, () => { settled = true; });
    const returnedPending = !settled;  // the work runs in steps, after this call returned
    const result = await pending;
    running = false;
    return { result, frames, maxGap, ms: performance.now() - t0, returnedPending };
  }, options);
  const result = JSON.parse(run.result);
  console.log(`calibration in the page: ${run.ms.toFixed(0)} ms, ${run.frames} frames drawn meanwhile, longest frame gap ${run.maxGap.toFixed(0)} ms`);
  check(result.samples === 2 && result.method === 'max' && result.layers.length === s.layers,
        `calibrate resolves with ${result.layers.length} layer thresholds from ${result.samples} samples`);
  // Not frozen: calibrate() returns before the work is done and the page draws meanwhile
  // (frame counts are reported above, not asserted: timing belongs in benchmarks).
  check(run.returnedPending && run.frames >= 1, `calibrate() returns a pending Promise and the page keeps drawing (${run.frames} frames)`);
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(artifacts, 'studio-web-calibration.png') });

  const table = await page.evaluate(() => window.mixq.exportCaliTable());
  fs.writeFileSync(path.join(artifacts, 'fastestdet-web.cali_table'), table);
  const conv = JSON.parse(await page.evaluate(() => window.mixq.exportPrecisions())).find((l) => l.kind === 'Conv').name;
  const input = JSON.parse(await page.evaluate(() => window.mixq.exportPrecisions())).find((l) => l.kind === 'Input').name;
  check(table.startsWith('# mlir version') && table.includes('\n###\n') && new RegExp(`\\n${input.replace(/\./g, '\\.')} [0-9.]+ -?[0-9.]+ [0-9.]+\\n`).test(table) &&
        table.includes(`\n${conv} `), `exportCaliTable writes TPU-MLIR's table with rows for ${input} and ${conv}`);

  if (!nativeCli || !fs.existsSync(nativeCli)) {
    console.log(`SKIPPED byte comparison with the native CLI: ${nativeCli || '(no path)'} is absent (build the native tree first)`);
    return;
  }
  const dataset = fs.mkdtempSync(path.join(os.tmpdir(), 'mixq-cali-'));
  try {
    for (const f of images) fs.copyFileSync(path.join(imageDir, f), path.join(dataset, f));
    const out = path.join(dataset, 'cli.cali_table');
    execFileSync(nativeCli, ['calibrate', 'fastestdet.onnx', '--dataset', dataset, '-o', out, '--cali_method', 'max',
                             '--input_num', '2', '--resize_dims', '352,352', '--scale', '0.0039216,0.0039216,0.0039216'],
                 { cwd: path.dirname(model), stdio: ['ignore', 'ignore', 'pipe'] });
    const cli = fs.readFileSync(out, 'utf8');
    fs.writeFileSync(path.join(artifacts, 'fastestdet-cli.cali_table'), cli);
    // Header (minus the time), row names and order, and the input row must be byte-equal;
    // the other numbers come from FP32 inference, whose kernels sum in a different order in
    // wasm (SSE emulation) than natively (AVX/FMA): they must agree to 1e-5 relative
    // beyond the table's printed resolution (7 decimals).
    const strip = (t) => t.replace(/^# genetated time: .*$/m, '');
    const header = (t) => strip(t).split('\n').filter((l) => l.startsWith('#')).join('\n');
    const rows = (t) => t.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/\s+/));
    const web = rows(table), ref = rows(cli);
    let maxRel = 0, sameNames = web.length === ref.length, identical = 0;
    for (let i = 0; sameNames && i < web.length; i++) {
      sameNames = web[i][0] === ref[i][0];
      if (web[i].join(' ') === ref[i].join(' ')) identical++;
      // The table prints 7 decimals: a difference of one printed unit (1e-7) is rounding of
      // the text, not of the numbers (e.g. 0.0044085 vs 0.0044084 is 2.3e-5 relative).
      for (let k = 1; k < 4; k++)
        maxRel = Math.max(maxRel, Math.max(0, Math.abs(web[i][k] - ref[i][k]) - 1.0001e-7) / Math.max(Math.abs(ref[i][k]), 1e-6));
    }
    const inputRow = (r) => r.find((x) => x[0] === input).join(' ');
    console.log(`studio vs native CLI table: ${web.length} rows, ${identical} byte-identical, max relative difference ${maxRel.toExponential(2)}` +
                (strip(table) === strip(cli) ? ' (byte for byte equal)' : ''));
    check(header(table) === header(cli), 'the table header equals `mixq calibrate`\'s (apart from the generated time)');
    check(sameNames && inputRow(web) === inputRow(ref),
          `same rows in the same order as \`mixq calibrate\`, the input row byte-equal (same selection and preprocessing): ${inputRow(web)}`);
    check(sameNames && maxRel < 1e-5, `every threshold/min/max within 1e-5 relative of the native CLI's (max ${maxRel.toExponential(2)})`);
  } finally {
    fs.rmSync(dataset, { recursive: true, force: true });
  }
}
