#!/usr/bin/env bash
# CLI contract tests (spec/cli.md): exit codes, messages naming the file, JSON reports.
# usage: test_cli.sh MIXQ_BINARY SHARED_DIR
set -u
MIXQ=$1
SHARED=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; }
expect_rc() {  # name expected_rc command...
  local name=$1 want=$2; shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"; local rc=$?
  if [ "$rc" = "$want" ]; then ok "$name (exit $rc)"; else bad "$name: exit $rc, expected $want: $(head -c 300 "$TMP/err")"; fi
}

YOLO="$SHARED/models/yolov5n-0.5-face.onnx"
if [ -f "$YOLO" ]; then
  expect_rc "info on yolov5n-face" 0 "$MIXQ" info "$YOLO" --all
  grep -q "949_Conv" "$TMP/out" && ok "info lists 949_Conv" || bad "info does not list 949_Conv"
  grep -q "stride_8 .*\[1,3,80,80,16\]" "$TMP/out" && ok "info shows output shapes" || bad "output shape missing"
  expect_rc "info --json -" 0 "$MIXQ" info "$YOLO" --json -
  /usr/bin/python3 - "$TMP/out" <<'PY' && ok "JSON schema (inputs/outputs/layers)" || bad "JSON schema"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["inputs"][0]["name"] == "data" and j["inputs"][0]["shape"] == [1, 3, 640, 640]
assert {o["name"] for o in j["outputs"]} == {"stride_8", "stride_16", "stride_32"}
layers = {l["name"]: l for l in j["layers"]}
assert "949_Conv" in layers and layers["391_Mul"]["kind"] == "SiLU"
assert all(set(l) >= {"name", "op_type", "onnx_nodes", "outputs", "inputs"} for l in j["layers"])
PY
  expect_rc "info --json FILE" 0 "$MIXQ" info "$YOLO" --json "$TMP/info.json"
  [ -s "$TMP/info.json" ] && ok "JSON file written" || bad "JSON file missing"
  expect_rc "bad --input_shapes" 2 "$MIXQ" info "$YOLO" --input_shapes "[[1,3,x]]"
  grep -q "input_shapes" "$TMP/err" && ok "message names --input_shapes" || bad "message lacks --input_shapes"
  expect_rc "wrong-rank --input_shapes" 2 "$MIXQ" info "$YOLO" --input_shapes "[[1,3,640]]"
  head -c 5000 "$YOLO" > "$TMP/truncated.onnx"
  expect_rc "truncated model" 2 "$MIXQ" info "$TMP/truncated.onnx"
  grep -q "truncated.onnx" "$TMP/err" && ok "message names the file" || bad "message lacks the file name"
else
  echo "SKIPPED: $YOLO absent"
fi
MNIST="$SHARED/models/mnist.onnx"
if [ -f "$MNIST" ] && /usr/bin/python3 -c "import onnx" 2>/dev/null; then
  mkdir -p "$TMP/ext"
  /usr/bin/python3 -c "
import onnx, sys
from onnx import numpy_helper
m = onnx.load(sys.argv[1])
for i, t in enumerate(m.graph.initializer):
    m.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t), t.name))
onnx.save(m, sys.argv[2], save_as_external_data=True, all_tensors_to_one_file=True, location='weights.bin', size_threshold=0)
" "$MNIST" "$TMP/ext/mnist_ext.onnx"
  expect_rc "model with external data" 0 "$MIXQ" info "$TMP/ext/mnist_ext.onnx"
  grep -q "5998 parameters" "$TMP/out" && ok "external weights loaded" || bad "external weights not loaded"
  head -c 100 "$TMP/ext/weights.bin" > "$TMP/ext/w.tmp" && mv "$TMP/ext/w.tmp" "$TMP/ext/weights.bin"
  expect_rc "short external data file" 2 "$MIXQ" info "$TMP/ext/mnist_ext.onnx"
  grep -q "weights.bin" "$TMP/err" && ok "message names the side file" || bad "message lacks the side file"
fi
expect_rc "missing file" 2 "$MIXQ" info "$TMP/nope.onnx"
grep -q "nope.onnx" "$TMP/err" && ok "missing-file message names the file" || bad "missing-file message"
echo "not a model" > "$TMP/text.onnx"
expect_rc "text file as model" 2 "$MIXQ" info "$TMP/text.onnx"
expect_rc "unknown subcommand" 2 "$MIXQ" frobnicate
expect_rc "no arguments" 2 "$MIXQ"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
