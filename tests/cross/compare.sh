#!/usr/bin/env bash
# Requires the files written by the hidden [.cross_platform] tests in the wasm build and in
# the MIXQ_PORTABLE_FP native build (tools/test builds build/portable first) to be
# byte-identical; for the default native build (AVX-512/FMA), if its files exist, it only
# reports how many table rows differ.   usage: compare.sh CROSS_DIR
set -uo pipefail
dir=$1 status=0 cases=0
for w in "$dir"/*.wasm; do
  [ -e "$w" ] || { echo "FAIL: no wasm outputs in $dir"; exit 1; }
  base=${w%.wasm} name=$(basename "$base")
  p="$base.native-portable"
  cases=$((cases + 1))
  if [ ! -e "$p" ]; then
    echo "FAIL: $p is missing (build with -DMIXQ_PORTABLE_FP=ON and run its cross_platform_portable test; tools/test does)"
    status=1
  elif cmp -s "$w" "$p"; then
    echo "ok: $name identical in wasm and the portable native build ($(wc -c < "$w") bytes)"
  else
    echo "FAIL: $name differs between wasm and the portable native build:"
    diff <(cat -v "$w") <(cat -v "$p") | head -6
    status=1
  fi
  n="$base.native"
  if [ -e "$n" ] && [[ $name == *.cali ]]; then
    rows=$(grep -vc '^#' "$w")
    differ=$(diff <(grep -v '^#' "$w") <(grep -v '^#' "$n") | grep -c '^<')
    echo "   info: the default native build (-march=native, FMA) differs in $differ of $rows rows"
  fi
done
[ $status = 0 ] && echo "all $cases cross-platform outputs are byte-identical"
exit $status
