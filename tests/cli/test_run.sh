#!/usr/bin/env bash
# test_run.sh MIXQ REF_DIR — `mixq run` end to end (spec/cli.md): outputs equal the
# onnxruntime references of the exec_ort fixture, --keys tpu|onnx, --dump_all, --repeat,
# a lone .npy, and exit code 2 with a clear message on bad input.
set -uo pipefail
MIXQ="$1"; REF="$2"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
keys() { node -e "const {readNpz}=require('$ROOT/tools/npz.js');console.log(Object.keys(readNpz(require('fs').readFileSync('$1'),'x')).sort().join('\n'))"; }

MODEL=$(awk -F'\t' '$1=="yolov5n-0.5-face"{print $2}' "$REF/manifest.txt")
IN="$REF/yolov5n-0.5-face.input.npz"
"$MIXQ" run "$MODEL" --test_input "$IN" -o "$T/onnx.npz" --keys onnx --threads 2 > "$T/log" 2>&1
check "run --keys onnx exits 0" "[ $? = 0 ]"
check "outputs equal onnxruntime" "node '$ROOT/tools/npz_diff.js' '$T/onnx.npz' '$REF/yolov5n-0.5-face.ref.npz' > '$T/diff'"
cat "$T/diff"
"$MIXQ" run "$MODEL" --test_input "$IN" -o "$T/tpu.npz" > /dev/null 2>&1
check "default keys are TPU-MLIR layer names (Conv output named <tensor>_Conv)" "keys '$T/tpu.npz' | grep -q '^stride_8_'"
"$MIXQ" run "$MODEL" --test_input "$IN" -o "$T/all.npz" --dump_all > /dev/null 2>&1
n_layers=$("$MIXQ" info "$MODEL" --json - | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).layers.length))")
n_keys=$(keys "$T/all.npz" | wc -l)
check "--dump_all --keys tpu writes one array per layer ($n_keys of $n_layers)" "[ '$n_keys' = '$n_layers' ]"
check "--dump_all keeps the graph input under its bare name" "keys '$T/all.npz' | grep -qx data"
"$MIXQ" run "$MODEL" --test_input "$IN" -o "$T/all_onnx.npz" --dump_all --keys onnx > /dev/null 2>&1
check "--dump_all --keys onnx has ONNX tensor names" "keys '$T/all_onnx.npz' | grep -qx stride_8 && [ \$(keys '$T/all_onnx.npz' | wc -l) -gt '$n_keys' ]"
"$MIXQ" run "$MODEL" --test_input "$IN" -o "$T/r.npz" --repeat 3 --threads 1 > "$T/rep" 2>&1
check "--repeat prints latency_ms median= min=" "grep -Eq '^latency_ms median=[0-9.]+ min=[0-9.]+' '$T/rep'"
"$MIXQ" run "$MODEL" --test_input "$IN" -o "$T/r.npz" --repeat 3 --threads 1 --json "$T/rep.json" > /dev/null 2>&1
check "--repeat --json: latency_ms has min <= median and min <= mean (throughput), repeat 3" \
  "node -e \"const l=JSON.parse(require('fs').readFileSync('$T/rep.json')).latency_ms; process.exit(l.repeat===3 && l.min<=l.median && l.min<=l.mean && l.mean>0 ? 0 : 1)\""
"$MIXQ" run "$MODEL" --test_input "$IN" -o "$T/c.npz" --keys onnx --compress > /dev/null 2>&1
check "--compress writes a readable deflated npz" "node '$ROOT/tools/npz_diff.js' '$T/c.npz' '$T/onnx.npz' > /dev/null"

# lone .npy feeds the single input
node -e "const {readNpz,writeNpy}=require('$ROOT/tools/npz.js');const fs=require('fs');fs.writeFileSync('$T/in.npy',writeNpy(readNpz(fs.readFileSync('$IN'),'x').data))"
"$MIXQ" run "$MODEL" --test_input "$T/in.npy" -o "$T/npy.npz" --keys onnx > /dev/null 2>&1
check "a lone .npy input gives the same outputs" "node '$ROOT/tools/npz_diff.js' '$T/npy.npz' '$T/onnx.npz' > /dev/null"

# bad inputs: exit 2 with a message naming the problem
printf 'garbage' > "$T/bad.npz"
"$MIXQ" run "$MODEL" --test_input "$T/bad.npz" -o "$T/x.npz" > /dev/null 2> "$T/err"; rc=$?
check "corrupt input: exit 2 naming the file" "[ $rc = 2 ] && grep -q bad.npz '$T/err'"
MB=$(awk -F'\t' '$1=="st_mobilenet_v2_0.35_128_tfs"{print $2}' "$REF/manifest.txt")
"$MIXQ" run "$MB" --test_input "$REF/st_mobilenet_v2_0.35_128_tfs.input.npz" -o "$T/x.npz" --input_shapes "[[2,3,128,128]]" > /dev/null 2> "$T/err"; rc=$?
cat "$T/err"
check "shape mismatch: exit 2 naming input and both shapes" "[ $rc = 2 ] && grep -q \"'input_1'\" '$T/err' && grep -q '2,3,128,128' '$T/err' && grep -q '1,3,128,128' '$T/err'"
check "no output file after a failure" "[ ! -e '$T/x.npz' ]"
exit $fail
