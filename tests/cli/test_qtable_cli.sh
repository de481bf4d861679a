#!/usr/bin/env bash
# CLI contract of `mixq qtable check|fix` and `mixq fp_forward` (spec/cli.md): exit codes,
# JSON schema, fixed qtables that read back clean. Args: MIXQ_BINARY SHARED_DIR
set -u
MIXQ="$1"
SHARED="$2"
MODEL="$SHARED/models/yolov5n-0.5-face.onnx"
if [ ! -f "$MODEL" ]; then echo "SKIPPED: $MODEL is absent"; exit 0; fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0; fail=0
check() {  # check NAME CONDITION...
  local name="$1"; shift
  if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi
}
json_get() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$1" "$2"; }

# fp_forward --yolo_heads: the three detection convs and what follows
"$MIXQ" fp_forward "$MODEL" --chip bm1684x --yolo_heads -o "$TMP/heads.qtable" --json "$TMP/fp.json" >/dev/null
check "fp_forward exit 0" test $? -eq 0
check "fp_forward header" grep -q '^# genetated time: ' "$TMP/heads.qtable"
check "fp_forward 9 layers" test "$(grep -vc '^#' "$TMP/heads.qtable")" -eq 9
check "fp_forward head conv" grep -q '^949_Conv F16$' "$TMP/heads.qtable"
check "fp_forward json heads" test "$(json_get "$TMP/fp.json" "len(d['head_convs'])")" = 3
"$MIXQ" fp_forward "$MODEL" --chip bm1688 --fpfwd_outputs 989 -o "$TMP/bm1688.qtable" >/dev/null
check "fp_forward bm1688 auto F16 by tensor name" grep -q '^989_Conv F16$' "$TMP/bm1688.qtable"
"$MIXQ" fp_forward "$MODEL" --chip cv181x --fpfwd_outputs 989_Conv -o "$TMP/cv.qtable" >/dev/null
check "fp_forward cv18xx BF16" grep -q '^989_Conv BF16$' "$TMP/cv.qtable"
"$MIXQ" fp_forward "$MODEL" --chip bm1684x --fpfwd_outputs 9890_Conv -o "$TMP/x.qtable" 2>"$TMP/err" >/dev/null
check "fp_forward unknown name exit 2" test $? -eq 2
check "fp_forward closest names" grep -q '989_Conv' "$TMP/err"
check "fp_forward wrote nothing on error" test ! -e "$TMP/x.qtable"

# qtable check: clean file -> 0; broken file -> 1 with the JSON schema
"$MIXQ" qtable check "$MODEL" "$TMP/heads.qtable" >/dev/null
check "check clean exit 0" test $? -eq 0
printf '# old qtable\r\nConv_500 F16\r\n969 F16\r\n990_Sigmoid FP16\r\n  989_Conv F16\r\nlone\r\n' > "$TMP/bad.qtable"
"$MIXQ" qtable check "$MODEL" "$TMP/bad.qtable" --json "$TMP/check.json" >/dev/null
check "check broken exit 1" test $? -eq 1
check "json entries" test "$(json_get "$TMP/check.json" "len(d['entries'])")" = 5
check "json fields" test "$(json_get "$TMP/check.json" "sorted(set(['line','name','mode','status','suggestion','message']) - set(d['entries'][0]))")" = "[]"
check "json node name suggestion" test "$(json_get "$TMP/check.json" "d['entries'][0]['suggestion']['name']")" = 949_Conv
check "json confidence in [0,1]" test "$(json_get "$TMP/check.json" "all(0 <= e['suggestion']['confidence'] <= 1 for e in d['entries'] if e['suggestion'])")" = True
check "json ignored lone" test "$(json_get "$TMP/check.json" "d['entries'][4]['status']")" = ignored
check "json invalid leading blank" test "$(json_get "$TMP/check.json" "d['entries'][3]['status']")" = invalid
check "json summary" test "$(json_get "$TMP/check.json" "d['summary']['ok']")" = 0
"$MIXQ" qtable check "$MODEL" "$TMP/bad.qtable" --json - > "$TMP/stdout.json"
check "json to stdout is pure JSON" test "$(json_get "$TMP/stdout.json" "d['summary']['lines']")" = 6

# qtable fix: every line reported, output reads back clean
"$MIXQ" qtable fix "$MODEL" "$TMP/bad.qtable" -o "$TMP/fixed.qtable" --json "$TMP/fix.json" >/dev/null
rc=$?
check "fix exit 1 (the lone token is dropped)" test $rc -eq 1
check "fix reports every entry line" test "$(json_get "$TMP/fix.json" "len(d['changes'])")" = 5
"$MIXQ" qtable check "$MODEL" "$TMP/fixed.qtable" >/dev/null
check "fixed qtable is clean" test $? -eq 0
check "fixed has the head" grep -q '^949_Conv F16$' "$TMP/fixed.qtable"
"$MIXQ" qtable fix "$MODEL" "$TMP/bad.qtable" -o "$TMP/fixed1684.qtable" --chip bm1684 >/dev/null
check "fix normalizes F16 to F32 on bm1684" grep -q '^949_Conv F32$' "$TMP/fixed1684.qtable"

# bad usage / input -> 2
"$MIXQ" qtable check "$MODEL" "$TMP/nope.qtable" >/dev/null 2>&1
check "missing qtable exit 2" test $? -eq 2
"$MIXQ" qtable check "$MODEL" "$TMP/bad.qtable" --chip bm9 >/dev/null 2>&1
check "unknown chip exit 2" test $? -eq 2

echo "qtable cli: $pass passed, $fail failed"
test $fail -eq 0
