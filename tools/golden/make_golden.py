#!/usr/bin/python3
"""Writes tests/golden/<model>.json: values for the golden tests, computed WITHOUT mixq.

- tensor shapes: every intermediate tensor is exposed as a graph output (python3-onnx)
  and the model is run by onnxruntime-node (tools/golden/ort_shapes.js);
- layer names: an independent, deliberately plain re-implementation of the TPU-MLIR
  naming rules mixq predicts (spec/tpu-mlir-compat.md section 1: base rule, constant
  folding, vanishing Identity/Dropout/Cast, BN/bias-Add folding into Conv, SiLU, Relu/
  ReLU6 fusion). Where this script and mixq disagree, one of them is wrong: look.

usage: tools/golden/make_golden.py   (needs python3-onnx and npm's onnxruntime-node)
"""
import json, os, subprocess, sys, tempfile
import numpy as np
import onnx
from onnx import numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "models")
OCR = os.path.join(ROOT, "node_modules", "@gutenye", "ocr-models", "assets")
MODELS = [
    (os.path.join(SHARED, "mnist.onnx"), None),
    (os.path.join(SHARED, "fastestdet.onnx"), None),
    (os.path.join(SHARED, "yolov5n-0.5-face.onnx"), None),
    (os.path.join(SHARED, "st_mobilenet_v2_0.35_128_tfs.onnx"), {"input_1": [1, 3, 128, 128]}),
    (os.path.join(OCR, "ch_PP-OCRv4_det_infer.onnx"), {"x": [1, 3, 640, 640]}),
    (os.path.join(OCR, "ch_PP-OCRv4_rec_infer.onnx"), {"x": [1, 3, 48, 320]}),
    (os.path.join(OCR, "ch_ppocr_mobile_v2.0_cls_infer.onnx"), {"x": [1, 3, 48, 192]}),
]


def input_shapes(model, given):
    inits = {i.name for i in model.graph.initializer}
    shapes = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        dims = [d.dim_value if d.HasField("dim_value") else 1 for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = (given or {}).get(vi.name, dims)
    return shapes


def ort_shapes(model, shapes):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    existing = {o.name for o in m.graph.output}
    for n in m.graph.node:
        for o in n.output:
            if o and o not in existing and n.op_type != "Constant":
                m.graph.output.append(onnx.ValueInfoProto(name=o))
                existing.add(o)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "all.onnx")
        onnx.save(m, path)
        out = subprocess.check_output(["node", os.path.join(ROOT, "tools", "golden", "ort_shapes.js"), path,
                                       json.dumps(shapes)], cwd=ROOT)
    return json.loads(out)


def const_value(name, consts):
    return consts.get(name)


def plain_layer_names(model, ort):
    """Independent prediction of the TPU-MLIR layer names."""
    g = model.graph
    consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    consts[n.output[0]] = numpy_helper.to_array(a.t)
    const_names = set(consts)
    nodes = [n for n in g.node if n.op_type != "Constant"]
    # 1. constant folding: Shape of a static tensor and nodes with all-constant inputs
    folded = set()
    for i, n in enumerate(nodes):
        ins = [x for x in n.input if x]
        if n.op_type in ("Shape", "Size") or (ins and all(x in const_names for x in ins)):
            folded.add(i)
            const_names.update(o for o in n.output if o)
    alias = {}
    def canon(t):
        while t in alias:
            t = alias[t]
        return t
    graph_outputs = {o.name for o in g.output}
    live = [i for i in range(len(nodes)) if i not in folded]
    vanished = set()
    for i in live:
        n = nodes[i]
        if n.op_type in ("Identity", "Dropout", "Cast") and n.input[0] not in const_names and n.output[0] not in graph_outputs:
            alias[n.output[0]] = canon(n.input[0]); vanished.add(i)
        elif n.op_type in ("Reshape", "Flatten", "Squeeze", "Unsqueeze") and n.output[0] not in graph_outputs \
                and n.input[0] in ort and n.output[0] in ort and ort[n.input[0]]["dims"] == ort[n.output[0]]["dims"]:
            alias[n.output[0]] = canon(n.input[0]); vanished.add(i)
        elif n.op_type in ("Add", "Sub", "Mul", "Div") and len(n.input) == 2 and n.input[1] in consts \
                and n.output[0] not in graph_outputs and n.input[0] not in const_names \
                and np.all(consts[n.input[1]] == (0 if n.op_type in ("Add", "Sub") else 1)) \
                and ort.get(n.input[0], {}).get("dims") == ort.get(n.output[0], {}).get("dims"):
            alias[n.output[0]] = canon(n.input[0]); vanished.add(i)
    live = [i for i in live if i not in vanished]
    def uses(t):
        c = 1 if t in graph_outputs else 0
        for j in live:
            c += sum(1 for x in nodes[j].input if x and canon(x) == t)
        return c
    producer = {}
    for i in live:
        for o in nodes[i].output:
            if o:
                producer[o] = i
    name = {i: nodes[i].output[0] + "_" + nodes[i].op_type for i in live}
    kind = {i: nodes[i].op_type for i in live}
    out = {i: nodes[i].output[0] for i in live}
    dead = set()
    # 6. BN folded into a single-use Conv (the Conv keeps its name)
    for i in live:
        n = nodes[i]
        if n.op_type != "BatchNormalization":
            continue
        x = canon(n.input[0]); p = producer.get(x)
        if p is not None and kind[p] == "Conv" and uses(x) == 1:
            dead.add(i); out[p] = n.output[0]; producer[n.output[0]] = p
    def consumers(t):
        return [j for j in live if j not in dead and any(x and canon(x) == t for x in nodes[j].input)]
    def scalar(t, v):
        a = consts.get(t)
        return a is not None and a.size >= 1 and np.allclose(a.astype(np.float64), v, rtol=1e-6, atol=1e-6)
    # 6b. bias Add (per-channel constant) after a single-use Conv folds into it
    for i in live:
        n = nodes[i]
        if i in dead or n.op_type != "Add" or len(n.input) != 2:
            continue
        ci = [k for k in (0, 1) if n.input[k] in consts]
        if len(ci) != 1:
            continue
        x = canon(n.input[1 - ci[0]]); p = producer.get(x); b = consts[n.input[ci[0]]]
        if p is None or kind[p] != "Conv" or uses(x) != 1:
            continue
        xs = ort.get(x, {}).get("dims")
        shp = list(b.shape)
        while len(shp) > len(xs) - 1 and shp and shp[0] == 1:
            shp = shp[1:]
        if xs and len(xs) > 2 and b.size == xs[1] and len(shp) == len(xs) - 1 and all(d == 1 for d in shp[1:]):
            dead.add(i); out[p] = n.output[0]; producer[n.output[0]] = p
    # 6c. a constant-0 spatial Pad read only by a Conv/MaxPool/AveragePool folds into it
    for i in live:
        n = nodes[i]
        if i in dead or n.op_type != "Pad":
            continue
        mode = next((a.s.decode() for a in n.attribute if a.name == "mode"), "constant")
        pads = next((list(a.ints) for a in n.attribute if a.name == "pads"), None)
        if len(n.input) > 1 and n.input[1] in consts:
            pads = [int(v) for v in consts[n.input[1]].reshape(-1)]
        value = next((a.f for a in n.attribute if a.name == "value"), 0.0)
        if len(n.input) > 2 and n.input[2]:
            value = float(consts[n.input[2]].reshape(-1)[0]) if n.input[2] in consts else 1.0
        c = consumers(n.output[0])
        if mode == "constant" and value == 0.0 and pads and len(pads) >= 4 and pads[0] == pads[1] == 0 \
                and pads[len(pads)//2] == pads[len(pads)//2 + 1] == 0 and len(c) == 1 and uses(n.output[0]) == 1 \
                and kind[c[0]] in ("Conv", "MaxPool", "AveragePool"):
            dead.add(i)
    # 5. HardSigmoid (Add 3, Clip 0..6, Div 6), HardSwish (Add 3, Clip 0..6, Mul x, Div 6),
    #    HardSwish from HardSigmoid(alpha=1/6, beta=0.5) * x; the last node's output names it
    for i in live:
        n = nodes[i]
        if i in dead or n.op_type != "Clip" or len(n.input) != 3 or not scalar(n.input[1], 0) or not scalar(n.input[2], 6):
            continue
        a = producer.get(canon(n.input[0]))
        if a is None or a in dead or kind[a] != "Add" or not any(scalar(t, 3) for t in nodes[a].input):
            continue
        x = canon(next(t for t in nodes[a].input if t not in consts))
        c = consumers(n.output[0])
        if len(c) != 1:
            continue
        nx = nodes[c[0]]
        if kind[c[0]] == "Div" and scalar(nx.input[1], 6):
            dead.update([a, i]); name[c[0]] = nx.output[0] + "_HardSigmoid"; kind[c[0]] = "HardSigmoid"
        elif kind[c[0]] == "Mul" and x in [canon(t) for t in nx.input]:
            d = consumers(nx.output[0])
            if len(d) == 1 and kind[d[0]] == "Div" and scalar(nodes[d[0]].input[1], 6):
                dead.update([a, i, c[0]]); name[d[0]] = nodes[d[0]].output[0] + "_HardSwish"; kind[d[0]] = "HardSwish"
    for i in live:
        n = nodes[i]
        if i in dead or n.op_type != "HardSigmoid":
            continue
        alpha = next((a.f for a in n.attribute if a.name == "alpha"), 0.2)
        beta = next((a.f for a in n.attribute if a.name == "beta"), 0.5)
        c = consumers(n.output[0])
        if abs(alpha - 1 / 6) < 1e-6 and beta == 0.5 and len(c) == 1 and kind[c[0]] == "Mul" \
                and canon(n.input[0]) in [canon(t) for t in nodes[c[0]].input]:
            dead.add(i); name[c[0]] = nodes[c[0]].output[0] + "_HardSwish"; kind[c[0]] = "HardSwish"
    # 5. LayerNorm: ReduceMean, Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div [, Mul w, Add b]
    for i in live:
        n = nodes[i]
        if i in dead or n.op_type != "ReduceMean":
            continue
        x = canon(n.input[0])
        axes = next((list(a.ints) for a in n.attribute if a.name == "axes"), [])
        subs = [j for j in consumers(n.output[0]) if kind[j] == "Sub" and canon(nodes[j].input[0]) == x]
        if len(subs) != 1:
            continue
        sub = subs[0]
        pw = [j for j in consumers(nodes[sub].output[0]) if kind[j] == "Pow"]
        dv = [j for j in consumers(nodes[sub].output[0]) if kind[j] == "Div"]
        if len(pw) != 1 or len(dv) != 1:
            continue
        rm = consumers(nodes[pw[0]].output[0])
        if len(rm) != 1 or kind[rm[0]] != "ReduceMean":
            continue
        ad = consumers(nodes[rm[0]].output[0])
        if len(ad) != 1 or kind[ad[0]] != "Add":
            continue
        sq = consumers(nodes[ad[0]].output[0])
        if len(sq) != 1 or kind[sq[0]] != "Sqrt" or consumers(nodes[sq[0]].output[0]) != dv:
            continue
        chain = [i, sub, pw[0], rm[0], ad[0], sq[0], dv[0]]
        m = consumers(nodes[dv[0]].output[0])
        if len(m) == 1 and kind[m[0]] == "Mul" and any(t in consts for t in nodes[m[0]].input):
            b = consumers(nodes[m[0]].output[0])
            if len(b) == 1 and kind[b[0]] == "Add" and any(t in consts for t in nodes[b[0]].input):
                chain += [m[0], b[0]]
        last_dims = bool(axes) and axes[-1] == -1 and all(axes[k] - axes[k - 1] == 1 for k in range(1, len(axes)))
        if not (last_dims or axes == [1]):
            continue
        dead.update(chain[:-1])
        t = "LayerNormalization" if last_dims else "PixelNormalization"
        name[chain[-1]] = nodes[chain[-1]].output[0] + "_" + t; kind[chain[-1]] = t
    # 4. SiLU: Mul(x, Sigmoid(x)), single-use Sigmoid -> the Mul's name
    for i in live:
        n = nodes[i]
        if i in dead or n.op_type != "Mul":
            continue
        for s, x in ((n.input[0], n.input[1]), (n.input[1], n.input[0])):
            p = producer.get(canon(s))
            if p is not None and p not in dead and kind[p] == "Sigmoid" and canon(nodes[p].input[0]) == canon(x) and uses(canon(s)) == 1:
                dead.add(p); kind[i] = "SiLU"; break
    # 2. Relu / Clip(min 0) after a single-use fusable producer: the producer takes its name
    fusable = {"Conv", "ConvTranspose", "BatchNormalization", "MaxPool", "AveragePool", "Add", "Sub", "Mul",
               "MatMul", "Gemm", "Upsample"}
    for i in live:
        n = nodes[i]
        if i in dead:
            continue
        is_relu = n.op_type == "Relu"
        if n.op_type == "Clip":
            lo = None
            for a in n.attribute:
                if a.name == "min":
                    lo = a.f
            if len(n.input) > 1 and n.input[1]:
                v = consts.get(n.input[1]); lo = float(v) if v is not None and v.size == 1 else None
            is_relu = lo == 0.0
        if not is_relu:
            continue
        x = canon(n.input[0]); p = producer.get(x)
        if p is not None and p not in dead and kind[p] in fusable and uses(x) == 1:
            dead.add(p); producer[n.output[0]] = i; kind[i] = kind[p]
    names = [g.input[k].name for k in range(len(g.input)) if g.input[k].name not in consts]
    names += [name[i] for i in live if i not in dead]
    return names


def main():
    for path, given in MODELS:
        if not os.path.exists(path):
            print("skip (absent):", path); continue
        model = onnx.load(path)
        shapes = input_shapes(model, given)
        ort = ort_shapes(model, shapes)
        float_shapes = {k: v["dims"] for k, v in ort.items() if v["type"] == "float32"}
        layers = plain_layer_names(model, ort)
        base = os.path.splitext(os.path.basename(path))[0]
        golden = {
            "model": os.path.relpath(path, ROOT) if path.startswith(ROOT) else "../shared/models/" + os.path.basename(path),
            "input_shapes": [shapes[k] for k in shapes],
            "onnx_nodes": len(model.graph.node),
            "float_tensor_shapes": float_shapes,
            "layer_names": layers,
        }
        with open(os.path.join(ROOT, "tests", "golden", base + ".json"), "w") as f:
            json.dump(golden, f, indent=0, sort_keys=True)
        print(base, len(float_shapes), "float tensors,", len(layers), "layers")


if __name__ == "__main__":
    main()
