// Runs an ONNX model in onnxruntime-node on seeded random inputs and prints the shape of
// every output as JSON ({name: [dims]}). Used by make_golden.py with a model whose
// intermediate tensors were all exposed as outputs.
// usage: node ort_shapes.js MODEL.onnx '{"input":[1,3,640,640]}'
const ort = require('onnxruntime-node');
async function main() {
  const [model, shapesJson] = process.argv.slice(2);
  const shapes = JSON.parse(shapesJson);
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'disabled' });
  let seed = 1;
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  const feeds = {};
  for (const name of session.inputNames) {
    const dims = shapes[name];
    const n = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; ++i) data[i] = rand();
    feeds[name] = new ort.Tensor('float32', data, dims);
  }
  const out = await session.run(feeds);
  const result = {};
  for (const [name, t] of Object.entries(out)) result[name] = { dims: t.dims, type: t.type };
  process.stdout.write(JSON.stringify(result));
}
main().catch((e) => { console.error(e.message); process.exit(1); });
