#!/usr/bin/env bash
# test_calibrate.sh MIXQ SHARED — `mixq calibrate` end to end (spec/cli.md): a table in
# TPU-MLIR's format from --dataset and from --data_list, the same table for 1 and 2
# threads, the exports, --check_table findings (exit 1) and exit 2 on bad input.
set -uo pipefail
MIXQ="$1"; SHARED="$2"
T="$(mktemp -d)"; trap 'rm -rf "$T"' EXIT
fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }
MODEL="$SHARED/models/fastestdet.onnx"
if [ ! -f "$MODEL" ]; then echo "SKIPPED: $MODEL is absent (../shared missing)"; exit 0; fi
PRE=(--scale 0.0039216,0.0039216,0.0039216)

"$MIXQ" calibrate "$MODEL" --dataset "$SHARED/calib/coco40" --input_num 2 "${PRE[@]}" --threads 1 -o "$T/t1.txt" \
  --trt_cache "$T/c.cache" --ort_json "$T/r.json" > "$T/log" 2>&1
check "calibrate --dataset exits 0" "[ $? = 0 ]"
check "header as run_calibration.py" "head -8 '$T/t1.txt' | grep -q '^# genetated time: ' && sed -n 5p '$T/t1.txt' | grep -qx '# sample number: 2' && grep -qx '###' '$T/t1.txt'"
check "graph input row first" "sed -n 8p '$T/t1.txt' | grep -q '^input.1 1.0000080 0.0000000 '"
check "every row '<name> %.7f %.7f %.7f'" "! grep -v '^#' '$T/t1.txt' | grep -Evq '^[^ ]+ -?[0-9]+\.[0-9]{7} -?[0-9]+\.[0-9]{7} -?[0-9]+\.[0-9]{7}$'"
n_layers=$("$MIXQ" info "$MODEL" --json - | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).layers.length))")
check "one row per layer ($n_layers)" "[ \$(grep -vc '^#' '$T/t1.txt') = '$n_layers' ]"
check "TensorRT cache" "head -1 '$T/c.cache' | grep -qx 'TRT-8601-EntropyCalibration2' && grep -Eq '^input.1: [0-9a-f]{8}$' '$T/c.cache'"
check "onnxruntime ranges JSON" "node -e \"const j=JSON.parse(require('fs').readFileSync('$T/r.json'));process.exit(j['input.1'].length===2?0:1)\""
# the same two files through --data_list, with 2 threads: identical rows
"$MIXQ" calibrate "$MODEL" --dataset "$SHARED/calib/coco40" --input_num 2 "${PRE[@]}" --json "$T/j.json" -o "$T/t0.txt" > /dev/null 2>&1
printf '%s\n' "$SHARED/calib/coco40/000000002149.jpg" "$SHARED/calib/coco40/000000003501.jpg" > "$T/list.txt"
"$MIXQ" calibrate "$MODEL" --data_list "$T/list.txt" "${PRE[@]}" --threads 2 -o "$T/t2.txt" > /dev/null 2>&1
check "--dataset picks CPython's first two (2149, 3501); 1 and 2 threads agree" "diff <(grep -v '^#' '$T/t1.txt') <(grep -v '^#' '$T/t2.txt')"
# --check_table: a good table passes, a damaged one is reported with exit 1
"$MIXQ" calibrate "$MODEL" --check_table "$T/t1.txt" > "$T/ok.log" 2>&1
check "--check_table on our own table exits 0" "[ $? = 0 ]"
sed -e 's/^input.16_Conv .*/input.16_Conv 1e+05 0 1/' -e 's/^onnx::Concat_429_Relu /onnx::Concat_429 /' "$T/t1.txt" > "$T/bad.txt"
"$MIXQ" calibrate "$MODEL" --check_table "$T/bad.txt" > "$T/bad.log" 2>&1
check "--check_table exits 1 on a damaged table" "[ $? = 1 ]"
check "reports the row TPU-MLIR drops" "grep -q 'dropped' '$T/bad.log'"
check "reports the ONNX tensor name and the layer to use" "grep -q \"use 'onnx::Concat_429_Relu'\" '$T/bad.log'"
"$MIXQ" calibrate "$MODEL" --dataset "$T/nothing" -o "$T/x.txt" > "$T/e.log" 2>&1
check "missing dataset exits 2" "[ $? = 2 ] && grep -q 'not a directory' '$T/e.log'"
"$MIXQ" calibrate "$MODEL" --data_list "$T/list.txt" --cali_method foo -o "$T/x.txt" > "$T/e.log" 2>&1
check "unknown method exits 2 naming it" "[ $? = 2 ] && grep -q \"unknown method 'foo'\" '$T/e.log'"
# shards: statistics of disjoint sample lists merged = one run over all (exact for max
# and for percentile9999 sized with --shard_total_num; kl re-bins histograms)
printf '%s\n' "$SHARED/calib/coco40/000000002923.jpg" "$SHARED/calib/coco40/000000000139.jpg" > "$T/list_b.txt"
cat "$T/list.txt" "$T/list_b.txt" > "$T/list_ab.txt"
for m in max percentile9999; do
  "$MIXQ" calibrate "$MODEL" --data_list "$T/list_ab.txt" "${PRE[@]}" --cali_method $m -o "$T/all_$m.txt" > /dev/null 2>&1
  for s in list list_b; do
    "$MIXQ" calibrate "$MODEL" --data_list "$T/$s.txt" "${PRE[@]}" --cali_method $m --shard_total_num 4 \
      --save_stats "$T/$s.$m.stats" -o "$T/$s.$m.txt" > /dev/null 2>&1
  done
  "$MIXQ" calibrate "$MODEL" --merge_stats "$T/list.$m.stats,$T/list_b.$m.stats" -o "$T/merged_$m.txt" > "$T/m.log" 2>&1
  check "--merge_stats of two shards = one run ($m)" "[ $? = 0 ] && diff <(grep -v '^#' '$T/all_$m.txt') <(grep -v '^#' '$T/merged_$m.txt') && sed -n 5p '$T/merged_$m.txt' | grep -qx '# sample number: 4'"
done
"$MIXQ" calibrate "$MODEL" --data_list "$T/list_b.txt" "${PRE[@]}" --save_stats "$T/b.kl.stats" -o "$T/b.kl.txt" > /dev/null 2>&1
"$MIXQ" calibrate "$MODEL" --merge_stats "$T/b.kl.stats" -o "$T/b.kl.merged.txt" > /dev/null 2>&1
check "--merge_stats of one kl shard = its own table" "diff <(grep -v '^#' '$T/b.kl.txt') <(grep -v '^#' '$T/b.kl.merged.txt')"
"$MIXQ" calibrate "$MODEL" --merge_stats "$T/list.max.stats,$T/b.kl.stats" -o "$T/x.txt" > "$T/e.log" 2>&1
check "--merge_stats of different methods exits 2 naming file and field" "[ $? = 2 ] && grep -q 'b.kl.stats: method: expected max' '$T/e.log'"
head -c 100 "$T/b.kl.stats" > "$T/cut.stats"
"$MIXQ" calibrate "$MODEL" --merge_stats "$T/cut.stats" -o "$T/x.txt" > "$T/e.log" 2>&1
check "a truncated stats file exits 2 naming it" "[ $? = 2 ] && grep -q 'cut.stats: .*the file ends' '$T/e.log' && [ ! -e '$T/x.txt' ]"
"$MIXQ" calibrate "$MODEL" --merge_stats "$T/list.txt" -o "$T/x.txt" > "$T/e.log" 2>&1
check "a foreign file exits 2" "[ $? = 2 ] && grep -q 'not a mixq statistics file' '$T/e.log'"
"$MIXQ" calibrate "$MODEL" --merge_stats "$T/b.kl.stats" --cali_method max -o "$T/x.txt" > "$T/e.log" 2>&1
check "--cali_method other than the saved one exits 2" "[ $? = 2 ] && grep -q -- '--cali_method: expected kl' '$T/e.log'"
exit $fail
