// The qtable part of the browser e2e test: a qtable written for a renamed export of the
// open model (every number in its layer names shifted by +100, as a re-export renumbers
// tensors), plus a correct line, a lone token and a 3-token line. Checks every status,
// the suggestions (they must name the original layers), applySuggestions, and the
// exported qtable. Returns the number of failed checks.
import fs from 'node:fs';
import path from 'node:path';

export async function runQtableCase(page, { check, artifacts, sharedDir }) {
  const wrap = check;
  const face = sharedDir && path.join(sharedDir, 'models/yolov5n-0.5-face.onnx');
  if (!face || !fs.existsSync(face)) { console.log(`SKIPPED qtable case: ${face} is absent`); return 0; }
  await page.setInputFiles('#model-input', face);
  await page.waitForFunction(() => JSON.parse(window.mixq.stats()).model === 'yolov5n-0.5-face.onnx', null, { timeout: 30000 });
  await page.evaluate(() => window.mixq.setChip('bm1684x'));
  const layers = JSON.parse(await page.evaluate(() => window.mixq.exportPrecisions()));
  const convs = layers.filter((l) => l.kind === 'Conv').map((l) => l.name);
  const shift = (s) => s.replace(/\d+/g, (d) => String(Number(d) + 100));
  const renamed = convs.slice(-5);
  const text = ['# quantize table written for an older export of this model',
                ...renamed.map((n) => `${shift(n)} F16`), `${convs[3]} F16`, 'lonetoken', `${convs[4]} F16 extra`].join('\n') + '\n';
  fs.writeFileSync(path.join(artifacts, 'qtable-renamed-export.txt'), text);

  // Through the file input, as a user would.
  await page.setInputFiles('#qtable-input', path.join(artifacts, 'qtable-renamed-export.txt'));
  await page.waitForFunction(() => window.mixqGlue && JSON.parse(window.mixq.stats()).overrides > 0, null, { timeout: 20000 });
  // And through the script API (same report).
  const report = JSON.parse(await page.evaluate((t) => window.mixq.importQtable(t, 'qtable-renamed-export.txt'), text));
  const byLine = new Map(report.entries.map((e) => [e.line, e]));
  wrap(report.entries.length === 8, `importQtable reports every entry line (${report.entries.length})`);
  const st = (line) => byLine.get(line) && byLine.get(line).status;
  wrap(st(7) === 'ok', 'a correct line is ok');
  wrap(st(8) === 'ignored', 'a lone token is ignored (as TPU-MLIR does)');
  wrap(st(9) === 'invalid', 'a 3-token line is invalid (TPU-MLIR aborts on it)');
  const unmatched = report.entries.filter((e) => e.status === 'unmatched');
  wrap(unmatched.length >= 1, `renamed lines are unmatched (${unmatched.length} of ${renamed.length}; the others coincide with real names)`);
  const right = unmatched.filter((e) => e.suggestion && e.suggestion.name === renamed[e.line - 2]);
  wrap(right.length === unmatched.length, `every unmatched line suggests the original layer (${right.length}/${unmatched.length})`);
  for (const e of unmatched)
    wrap(e.suggestion && e.suggestion.confidence > 0 && e.suggestion.confidence <= 1 && e.suggestion.reason.length > 0,
         `suggestion for '${e.name}': ${e.suggestion && e.suggestion.name} (${e.suggestion && e.suggestion.confidence.toFixed(2)})`);
  await page.waitForTimeout(400);
  await page.screenshot({ path: path.join(artifacts, 'studio-web-qtable.png') });

  const fixed = JSON.parse(await page.evaluate(() => window.mixq.applySuggestions(0.5)));
  wrap(fixed.entries.filter((e) => e.status === 'unmatched' && e.suggestion && e.suggestion.confidence >= 0.5).length === 0,
       'applySuggestions(0.5) leaves no confident suggestion open');
  const exported = await page.evaluate(() => window.mixq.exportQtable());
  fs.writeFileSync(path.join(artifacts, 'qtable-corrected.txt'), exported);
  for (const e of unmatched)
    wrap(exported.includes(`\n${e.suggestion.name} F16\n`), `exported qtable sets ${e.suggestion.name} F16`);
  wrap(!exported.includes(shift(renamed[renamed.length - 1]) + ' ') || byLine.get(6).status === 'ok',
       'exported qtable names only layers of this model');
  wrap(exported.startsWith('# genetated time: ') && exported.includes('# op_name   quantize_mode\n'), 'exported qtable has the generator header');
  // The UI's own export (Ctrl+S -> Blob download) gives the same file. The four key
  // events are dispatched in one task, so no frame runs between press and release: the
  // studio must still see the shortcut (ImGui 1.86 samples keys once per frame).
  await page.mouse.click(700, 300);
  const pressCtrlSInOneTask = () => page.evaluate(() => {
    const fire = (type, key, keyCode, ctrlKey) =>
      window.dispatchEvent(new KeyboardEvent(type, { key, keyCode, which: keyCode, ctrlKey, bubbles: true }));
    fire('keydown', 'Control', 17, true);
    fire('keydown', 's', 83, true);
    fire('keyup', 's', 83, true);
    fire('keyup', 'Control', 17, false);
  });
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 15000 }), pressCtrlSInOneTask()]);
  const downloaded = fs.readFileSync(await download.path(), 'utf8');
  fs.writeFileSync(path.join(artifacts, 'qtable-downloaded.txt'), downloaded);
  const body = (t) => t.split('\n').filter((l) => !l.startsWith('# genetated time:')).join('\n');
  wrap(download.suggestedFilename() === 'qtable.txt' && body(downloaded) === body(exported),
       `the UI's Export qtable download (${download.suggestedFilename()}) equals exportQtable()`);
  const bad = await page.evaluate(() => { try { window.mixq.applySuggestions(7); return ''; } catch (e) { return e.message; } });
  wrap(bad.includes('confidence'), `a bad confidence is refused: "${bad}"`);
  await page.waitForTimeout(400);
  await page.screenshot({ path: path.join(artifacts, 'studio-web-qtable-fixed.png') });
  return 0;  // failures are counted by check()
}
