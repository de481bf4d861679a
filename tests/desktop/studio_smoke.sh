#!/usr/bin/env bash
# Desktop smoke test: mixq-studio under Xvfb renders N frames of a real model without GL
# errors and writes a non-blank screenshot (test-artifacts/studio-desktop.png).
set -euo pipefail
BIN=$1; ART=$2; MODEL=$3
mkdir -p "$ART"
SHOT="$ART/studio-desktop.png"
rm -f "$SHOT"
if [ ! -f "$MODEL" ]; then echo "SKIPPED: $MODEL is absent (run tools/setup)"; exit 0; fi
xvfb-run -a -s "-screen 0 1600x1000x24" "$BIN" "$MODEL" --frames 30 --screenshot "$SHOT"
[ -s "$SHOT" ] || { echo "no screenshot written"; exit 1; }
# A rendered studio has many colours; a blank or black frame has one or two.
if command -v identify >/dev/null; then
  colours=$(identify -format "%k" "$SHOT")
  echo "screenshot colours: $colours"
  [ "$colours" -gt 50 ] || { echo "screenshot looks blank"; exit 1; }
fi
echo "desktop smoke ok: $SHOT"
