// Browser end-to-end test of the web studio in Debian's Chromium (playwright-core from npm,
// never a downloaded browser). Serves the build output on 127.0.0.1, then: the demo model
// renders; frame time is measured while panning/zooming; a shared model opens through the
// file input and another through window.mixq; a bad model fails with the core's message and
// loses nothing; precision edits, qtable export and the session link round-trip; a qtable
// written for a renamed export is imported and repaired (when the qtable doctor is built in);
// calibration in the page equals the native CLI's table (calibration_case.mjs).
// Screenshots go to test-artifacts/.
// usage: node studio_e2e.mjs STUDIO_DIR ARTIFACTS_DIR SHARED_DIR [NATIVE_MIXQ_CLI]
import { chromium } from 'playwright-core';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [studioDir, artifacts, sharedDir, nativeCli] = process.argv.slice(2);
if (!studioDir || !artifacts) {
  console.error('usage: node studio_e2e.mjs STUDIO_DIR ARTIFACTS_DIR [SHARED_DIR]');
  process.exit(2);
}
fs.mkdirSync(artifacts, { recursive: true });
let failures = 0;
function check(cond, what) {
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${what}`);
  if (!cond) failures++;
}

const mime = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.data': 'application/octet-stream' };
const server = http.createServer((req, res) => {
  const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
  const file = path.resolve(studioDir, rel);
  if (!file.startsWith(path.resolve(studioDir)) || !fs.existsSync(file)) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { 'Content-Type': mime[path.extname(file)] || 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mixq-chromium-'));
// A fresh profile directory per run (playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(userDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1600, height: 1000 },
  acceptDownloads: true,
  args: ['--headless', '--no-sandbox', '--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
         '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update',
         '--disable-sync'],
});
try {
  const page = browser.pages()[0] || await browser.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  // Baseline: a bare WebGL2 page clearing a canvas of the same size (the SwiftShader floor).
  await page.setContent('<canvas id=c width=1600 height=1000></canvas>');
  const floor = await page.evaluate(() => new Promise((resolve) => {
    const gl = document.getElementById('c').getContext('webgl2');
    const t = []; let last = performance.now();
    function tick(now) {
      gl.clearColor(Math.random(), 0, 0, 1); gl.clear(gl.COLOR_BUFFER_BIT);
      t.push(now - last); last = now; if (t.length < 40) requestAnimationFrame(tick); else resolve(t);
    }
    requestAnimationFrame(tick);
  }));
  const floorMedian = floor.slice(5).sort((a, b) => a - b)[Math.floor((floor.length - 5) / 2)];
  console.log(`baseline: bare WebGL2 clear at 1600x1000, rAF median ${floorMedian.toFixed(1)} ms`);
  await page.goto(url);
  await page.waitForFunction(() => window.mixq && document.getElementById('loading').classList.contains('done'),
                             null, { timeout: 120000 });
  await page.waitForTimeout(500);
  const stats = JSON.parse(await page.evaluate(() => window.mixq.stats()));
  check(stats.layers > 100, `demo model opens at once (${stats.model}: ${stats.layers} layers, layout ${stats.layout_ms.toFixed(1)} ms)`);
  check(stats.input_shapes === '[[1,3,640,640]]' && stats.unknown_input_dims === 0 && stats.layers_with_unknown_shape === 0,
        `the demo opens with --input_shapes [[1,3,640,640]]: every layer has a concrete shape (${stats.input_shapes}, ` +
        `${stats.layers_with_unknown_shape} layers with '?')`);
  await page.screenshot({ path: path.join(artifacts, 'studio-web-demo.png') });

  // Input shapes: re-analysis keeps edits by layer name; the session link carries the shapes.
  {
    const conv = await page.evaluate(() => JSON.parse(window.mixq.exportPrecisions()).find((l) => l.kind === 'Conv').name);
    const qmark = await page.evaluate(() => { try { window.mixq.setInputShapes('[[1,3,?,?]]'); return ''; } catch (e) { return e.message; } });
    check(qmark.includes("'?'"), `setInputShapes rejects a '?' with a clear message: "${qmark}"`);
    const s320 = JSON.parse(await page.evaluate((n) => { window.mixq.setPrecision(n, 'F16'); return window.mixq.setInputShapes('[[1,3,320,320]]'); }, conv));
    const kept = await page.evaluate(() => window.mixq.exportQtable());
    check(s320.input_shapes === '[[1,3,320,320]]' && s320.layers_with_unknown_shape === 0 && s320.dropped_precisions.length === 0 &&
          kept.includes(`\n${conv} F16\n`), `setInputShapes re-analyzes and keeps the edit on ${conv}`);
    const link320 = await page.evaluate(() => window.mixq.sessionUrl());
    await page.evaluate(() => window.mixq.setInputShapes('[[1,3,640,640]]'));
    await page.evaluate((l) => window.mixq.openSessionUrl(l), link320);
    const back = JSON.parse(await page.evaluate(() => window.mixq.stats()));
    check(back.input_shapes === '[[1,3,320,320]]', `the session link carries the input shapes (${back.input_shapes})`);
    await page.evaluate((n) => { window.mixq.setInputShapes('[[1,3,640,640]]'); window.mixq.setPrecision(n, 'INT8'); }, conv);
    // The Model panel without shapes: the '?' warning line.
    await page.evaluate(() => window.mixq.setInputShapes(''));
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(artifacts, 'studio-web-unknown-dims.png') });
    const dyn = JSON.parse(await page.evaluate(() => window.mixq.stats()));
    check(dyn.unknown_input_dims === 2 && dyn.layers_with_unknown_shape > 0,
          `without input shapes the dynamic dims stay unknown (${dyn.input_shapes})`);
    await page.evaluate(() => window.mixq.setInputShapes('[[1,3,640,640]]'));
  }

  // Frame time on the demo graph while panning and zooming (rAF intervals + UI build time).
  const box = { x: 800, y: 350 };
  await page.mouse.move(box.x, box.y);
  const perf = page.evaluate(() => new Promise((resolve) => {
    const t = []; let last = performance.now();
    function tick(now) { t.push(now - last); last = now; if (t.length < 60) requestAnimationFrame(tick); else resolve(t); }
    requestAnimationFrame(tick);
  }));
  for (let i = 0; i < 8; i++) {
    await page.mouse.wheel(0, i % 2 ? 120 : -120);
    await page.mouse.down(); await page.mouse.move(box.x + 40, box.y + 60, { steps: 3 }); await page.mouse.up();
    await page.mouse.move(box.x, box.y);
  }
  const intervals = (await perf).slice(5).sort((a, b) => a - b);
  const median = intervals[Math.floor(intervals.length / 2)];
  const p95 = intervals[Math.floor(intervals.length * 0.95)];
  const ui = JSON.parse(await page.evaluate(() => window.mixq.stats()));
  console.log(`frame time (headless Chromium, SwiftShader): rAF median ${median.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms; ` +
              `UI build avg ${ui.frame_ms_avg.toFixed(2)} ms, max ${ui.frame_ms_max.toFixed(2)} ms`);
  fs.writeFileSync(path.join(artifacts, 'studio-web-frametime.json'),
                   JSON.stringify({ model: ui.model, layers: ui.layers, baseline_raf_median_ms: floorMedian, raf_median_ms: median, raf_p95_ms: p95,
                                    ui_frame_ms_avg: ui.frame_ms_avg, ui_frame_ms_max: ui.frame_ms_max }, null, 2));
  // Frame times are measurements (test-artifacts/studio-web-frametime.json), not assertions:
  // timing goals live in benchmarks.
  check(ui.frame_ms_avg > 0, 'UI frame build time is measured');
  // Worst case: the whole graph on screen.
  await page.evaluate(() => window.mixq.fit());
  const whole = await page.evaluate(() => new Promise((resolve) => {
    const t = []; let last = performance.now();
    function tick(now) { t.push(now - last); last = now; if (t.length < 40) requestAnimationFrame(tick); else resolve(t); }
    requestAnimationFrame(tick);
  }));
  const wholeMedian = whole.slice(5).sort((a, b) => a - b)[Math.floor((whole.length - 5) / 2)];
  const ui2 = JSON.parse(await page.evaluate(() => window.mixq.stats()));
  console.log(`whole graph visible (zoom ${ui2.zoom.toFixed(2)}): rAF median ${wholeMedian.toFixed(1)} ms, UI build avg ${ui2.frame_ms_avg.toFixed(2)} ms`);
  await page.screenshot({ path: path.join(artifacts, 'studio-web-whole-graph.png') });

  // Precision editing + exports through the script API.
  const first = await page.evaluate(() => JSON.parse(window.mixq.exportPrecisions()).find((l) => l.kind === 'Conv').name);
  await page.evaluate((n) => { window.mixq.setChip('bm1688'); window.mixq.setPrecision(n, 'f16'); window.mixq.select(n); }, first);
  const q = await page.evaluate(() => window.mixq.exportQtable());
  check(q.startsWith('# genetated time: ') && q.includes('# chip: bm1688  mix_mode: F16') && q.includes(`\n${first} F16\n`),
        'exportQtable writes TPU-MLIR generator format with the edited layer');
  const link = await page.evaluate(() => window.mixq.sessionUrl());
  check(/#session=[A-Za-z0-9_-]+$/.test(link), 'sessionUrl is a URL-safe link');
  await page.evaluate((n) => { window.mixq.setPrecision(n, 'INT8'); window.mixq.setChip('bm1684x'); }, first);
  await page.evaluate((l) => window.mixq.openSessionUrl(l), link);
  const restored = await page.evaluate(() => window.mixq.exportQtable());
  check(restored.includes(`\n${first} F16\n`) && restored.includes('chip: bm1688'), 'openSessionUrl restores chip and precisions');
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(artifacts, 'studio-web-selected.png') });

  // A bad model: the core's message, and nothing lost.
  const bad = await page.evaluate(() => {
    try { window.mixq.loadModel(new Uint8Array([8, 1, 18, 3, 1, 2]), 'broken.onnx'); return ''; } catch (e) { return e.message; }
  });
  check(bad.includes('broken.onnx'), `a bad model fails with a message naming the file: "${bad}"`);
  const after = await page.evaluate(() => window.mixq.exportQtable());
  check(after.includes(`\n${first} F16\n`), 'the edits survive a failed load');
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(artifacts, 'studio-web-error.png') });

  // Shared models: one through the file input, one through window.mixq.
  const face = sharedDir && path.join(sharedDir, 'models/yolov5n-0.5-face.onnx');
  const fastest = sharedDir && path.join(sharedDir, 'models/fastestdet.onnx');
  if (face && fs.existsSync(face)) {
    await page.setInputFiles('#model-input', face);
    await page.waitForFunction(() => JSON.parse(window.mixq.stats()).model === 'yolov5n-0.5-face.onnx', null, { timeout: 30000 });
    const s = JSON.parse(await page.evaluate(() => window.mixq.stats()));
    check(s.layers > 50, `file input opens ${s.model} (${s.layers} layers)`);
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(artifacts, 'studio-web-file-input.png') });
  } else {
    console.log(`SKIPPED: ${face} is absent (../shared missing)`);
  }
  if (fastest && fs.existsSync(fastest)) {
    const bytes = [...fs.readFileSync(fastest)];
    const badOpt = await page.evaluate((b) => {
      try { window.mixq.loadModel(new Uint8Array(b), 'fastestdet.onnx', { inputshapes: '[[1,3,352,352]]' }); return ''; } catch (e) { return e.message; }
    }, bytes);
    check(badOpt.includes("unknown option 'inputshapes'"), `loadModel names an unknown option: "${badOpt}"`);
    const s = JSON.parse(await page.evaluate((b) => window.mixq.loadModel(new Uint8Array(b), 'fastestdet.onnx',
                                                                          { input_shapes: '[[1,3,352,352]]' }), bytes));
    check(s.model === 'fastestdet.onnx' && s.layers > 50 && s.input_shapes === '[[1,3,352,352]]',
          `window.mixq.loadModel opens fastestdet.onnx with input_shapes (${s.layers} layers, ${s.input_shapes})`);
    // A top .mlir naming every layer but one differently, plus a name no layer can take.
    const names = JSON.parse(await page.evaluate(() => window.mixq.exportPrecisions())).map((l) => l.name);
    const mlir = ['module attributes {module.name = "fastestdet"} {', '}',
                  ...names.map((n, i) => `#loc${i} = loc("${n}")`), `#loc${names.length} = loc("ghost_from_another_export")`].join('\n');
    const m = JSON.parse(await page.evaluate((t) => window.mixq.loadMlir(t, 'fastestdet_top.mlir'), mlir));
    const sm = JSON.parse(await page.evaluate(() => window.mixq.stats()));
    check(m.layers === names.length && m.renamed === 0 && m.unmatched.length === 1 && m.unmatched[0] === 'ghost_from_another_export' &&
          sm.mlir === 'fastestdet_top.mlir', `loadMlir re-analyzes with the .mlir names and reports the unmatched one (${JSON.stringify(m.unmatched)})`);
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(artifacts, 'studio-web-mlir.png') });
  }

  // Qtable written for a renamed export (the qtable doctor's job; skipped if not built in).
  const qtableCase = path.join(path.dirname(new URL(import.meta.url).pathname), 'qtable_case.mjs');
  if (fs.existsSync(qtableCase)) {
    const { runQtableCase } = await import(qtableCase);
    await runQtableCase(page, { check, artifacts, sharedDir });
  }
  // Calibration in the page, compared with the native CLI's table.
  const { runCalibrationCase } = await import(path.join(path.dirname(new URL(import.meta.url).pathname), 'calibration_case.mjs'));
  await runCalibrationCase(page, { check, artifacts, sharedDir, nativeCli });
  check(consoleErrors.filter((e) => !e.includes('broken.onnx') && !e.includes('notes.txt')).length === 0, `no page errors (${consoleErrors.join(' | ')})`);
} finally {
  await browser.close();
  server.close();
  fs.rmSync(userDir, { recursive: true, force: true });
}
console.log(failures ? `${failures} check(s) failed` : 'all browser checks passed');
process.exit(failures ? 1 : 0);
