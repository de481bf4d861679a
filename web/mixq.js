// mixq studio page glue: the Emscripten Module object, the loading indicator, file
// picking, drag & drop, Blob downloads, the clipboard, and window.mixq (the script API
// of spec/cli.md). Every window.mixq call goes through the same Embind functions the
// studio's UI actions use (web/bindings.cpp -> StudioApp). Failures throw an Error whose
// message is the core's mixq::Error text (the CLI prints the same words).
'use strict';
(function () {
  const statusEl = document.getElementById('status');
  const loadingEl = document.getElementById('loading');
  const canvas = document.getElementById('canvas');
  let resolveReady;
  const ready = new Promise((r) => { resolveReady = r; });

  function call(fn, ...args) {
    const result = Module[fn](...args);
    const err = Module.studio_last_error();
    if (err) throw new Error(err);
    return result;
  }
  function toBytes(data) {
    if (data instanceof Uint8Array) return data;
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    throw new TypeError('loadModel: expected a Uint8Array or ArrayBuffer');
  }
  function notYet(name) {
    return () => { throw new Error(name + ': not available in this build of the studio yet'); };
  }

  window.mixqGlue = {
    downloads: [],
    copied: [],
    saveFile(name, mime, bytes) {
      const blob = new Blob([bytes], { type: mime });
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = name;
      document.body.appendChild(a);
      a.click();
      setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 2000);
      this.downloads.push({ name, mime, text: new TextDecoder().decode(bytes) });
    },
    pickFile(kind) {
      const input = document.getElementById(kind + '-input');
      input.value = '';
      input.click();
    },
    copyText(text) {
      this.copied.push(text);
      Module.studio_set_clipboard(text);
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).catch(() => {});
    },
    firstFrame() {
      loadingEl.classList.add('done');
      resolveReady();
    },
  };

  async function openFile(file, asReference) {
    const name = file.name;
    try {
      if (asReference) window.mixq.loadReference(new Uint8Array(await file.arrayBuffer()), name);
      else if (/\.onnx$/i.test(name)) window.mixq.loadModel(new Uint8Array(await file.arrayBuffer()), name);
      else if (/\.mlir$/i.test(name)) window.mixq.loadMlir(await file.text(), name);
      else if (/\.(jpe?g|png|bmp|jfif|npz|npy)$/i.test(name)) window.mixq.addCalibrationData(name, new Uint8Array(await file.arrayBuffer()));
      else window.mixq.importQtable(await file.text(), name);
    } catch (e) {
      console.error(e.message);  // already shown in the studio (banner + log)
    }
  }
  // Inputs are cleared after reading so choosing the same file again fires 'change'.
  for (const kind of ['model', 'qtable', 'reference', 'mlir', 'calibration']) {
    document.getElementById(kind + '-input').addEventListener('change', async (e) => {
      for (const file of [...e.target.files]) await openFile(file, kind === 'reference');
      e.target.value = '';
    });
  }

  const drop = document.getElementById('drop');
  let dragDepth = 0;
  window.addEventListener('dragenter', (e) => { e.preventDefault(); dragDepth++; drop.classList.add('on'); });
  window.addEventListener('dragleave', (e) => { e.preventDefault(); if (--dragDepth <= 0) { dragDepth = 0; drop.classList.remove('on'); } });
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    dragDepth = 0;
    drop.classList.remove('on');
    for (const f of e.dataTransfer.files) openFile(f);
  });
  // Ctrl+S is the studio's "Export qtable", not the browser's "Save page".
  window.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && (e.key === 's' || e.key === 'S')) e.preventDefault();
  }, true);
  // Emscripten's GLFW has no clipboard: feed ImGui's clipboard from the paste event.
  window.addEventListener('paste', (e) => {
    const text = (e.clipboardData || window.clipboardData).getData('text');
    if (text && Module.studio_set_clipboard) Module.studio_set_clipboard(text);
  });

  window.Module = {
    canvas,
    print: (t) => console.log(t),
    printErr: (t) => console.warn(t),
    setStatus: (t) => { if (t) statusEl.textContent = t.replace(/\(\d+\/\d+\)/, (m) => m); },
    monitorRunDependencies: (left) => { if (left) statusEl.textContent = 'Loading model and fonts…'; },
    onAbort: (what) => {
      loadingEl.classList.add('error');
      statusEl.textContent = 'The studio stopped: ' + what;
    },
  };
  window.addEventListener('error', (e) => {
    if (!loadingEl.classList.contains('done')) {
      loadingEl.classList.add('error');
      statusEl.textContent = e.message;
    }
  });

  window.mixq = {
    ready,
    // options: CLI flag names without dashes, e.g. {"input_shapes":"[[1,3,640,640]]"}.
    loadModel(bytes, name, options) {
      const opts = options == null ? '' : typeof options === 'string' ? options : JSON.stringify(options);
      call('studio_load_model', toBytes(bytes), name || 'model.onnx', opts);
      return call('studio_stats');
    },
    // Re-analyzes with --input_shapes text; returns stats plus "dropped_precisions".
    setInputShapes(text) {
      return call('studio_set_input_shapes', typeof text === 'string' ? text : JSON.stringify(text));
    },
    // A top .mlir: its loc names become the layer names. {"layers","renamed","unmatched","dropped_precisions"}
    loadMlir(text, name) { return call('studio_load_mlir', String(text), name || 'model.mlir'); },
    loadReference(bytes, name) { call('studio_load_reference', toBytes(bytes), name || 'reference.onnx'); },
    importQtable(text, name) { return call('studio_import_qtable', String(text), name || 'qtable.txt'); },
    applySuggestions(minConfidence) { return call('studio_apply_suggestions', Number(minConfidence)); },
    exportQtable() { return call('studio_export_qtable'); },
    exportPrecisions() { return call('studio_export_precisions'); },
    sessionUrl() { return call('studio_session_url'); },
    openSessionUrl(url) { call('studio_open_session_url', String(url)); },
    setChip(chip) { call('studio_set_chip', String(chip)); },
    setPrecision(layer, mode) { call('studio_set_precision', String(layer), String(mode)); },
    select(layer) { call('studio_select_layer', String(layer)); },
    fit() { Module.studio_fit_view(); },
    stats() { return call('studio_stats'); },
    // Calibration data: an image (jpg/png/bmp) or an npz/npy file; returns the number of files.
    addCalibrationData(name, bytes) { return call('studio_add_calibration_data', String(name), toBytes(bytes)); },
    removeCalibrationData(name) { return call('studio_remove_calibration_data', String(name)); },
    // options: the CLI's flag names without dashes, e.g. {"cali_method":"kl","input_num":4,"resize_dims":"416,416"}.
    // The run advances a batch per animation frame (the page keeps drawing); resolves with the result JSON.
    async calibrate(options) {
      const opts = options == null ? '' : typeof options === 'string' ? options : JSON.stringify(options);
      const id = call('studio_start_calibration', opts);
      return new Promise((resolve, reject) => {
        const poll = () => {
          const st = JSON.parse(Module.studio_calibration_status());
          if (st.run !== id) reject(new Error('calibration was superseded by a newer run'));
          else if (st.state === 'running') requestAnimationFrame(poll);
          else if (st.state === 'done') { try { resolve(call('studio_calibration_result')); } catch (e) { reject(e); } }
          else reject(new Error(st.message || 'calibration ' + st.state));
        };
        requestAnimationFrame(poll);
      });
    },
    cancelCalibration() { Module.studio_cancel_calibration(); },
    calibrationStatus() { return Module.studio_calibration_status(); },
    exportCaliTable() { return call('studio_export_cali_table'); },
    simulate: async () => notYet('simulate')(),
  };
  // A session link (#session=...) re-applies chip and precisions once the demo is open.
  ready.then(() => {
    if (location.hash.includes('session=')) {
      try { window.mixq.openSessionUrl(location.hash); } catch (e) { console.error(e.message); }
    }
  });
})();
