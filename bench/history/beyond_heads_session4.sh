#!/usr/bin/env bash
# Issue "beyond heads" on ASDiv-A fold 0: heads-only vs heads+FFN (with and without a
# hidden-state MSE term) vs heads+FFN+vocabulary,
# every variant from the same teacher, exported fp32 and int8, then benched side by side in
# one run. Resumable: finished stages are skipped. Needs runs/teacher-asdiv-a-0 (see
# bench/asdiv_compress.sh) and the heads-only student that `edgemath report` makes.
set -euo pipefail
cd "$(dirname "$0")/../.."
EM=${EM:-.venv/bin/edgemath}
T=${T:-runs/teacher-asdiv-a-0}
R=${R:-runs/ffn}
HEADS=${HEADS:-runs/report/asdiv-a-0/heads0.3-a0-r1}
common=(--data asdiv-a:0 --alpha 0 --rounds 1 --epochs 6 --resume)
[ -f "$R/h0.3-f0.6/manifest.json" ] || $EM compress --teacher "$T" --prune-heads 0.3 --prune-ffn 0.6 "${common[@]}" --out "$R/h0.3-f0.6"
[ -f "$R/h0.3-f0.6-v/manifest.json" ] || $EM compress --teacher "$R/h0.3-f0.6" --data asdiv-a:0 --prune-heads 0 \
    --prune-vocab --vocab-min-count 10 --out "$R/h0.3-f0.6-v"
[ -f "$R/h0.5-f0.6/manifest.json" ] || $EM compress --teacher "$T" --prune-heads 0.5 --prune-ffn 0.6 "${common[@]}" --out "$R/h0.5-f0.6"
[ -f "$R/h0.3-f0.6-g1/manifest.json" ] || $EM compress --teacher "$T" --prune-heads 0.3 --prune-ffn 0.6 --gamma 1 "${common[@]}" --out "$R/h0.3-f0.6-g1"
for run in "$T" "$HEADS" "$R/h0.3-f0.6" "$R/h0.3-f0.6-g1" "$R/h0.3-f0.6-v" "$R/h0.5-f0.6"; do
    for p in fp32 int8; do
        [ -f "$run/export-$p/manifest.json" ] || $EM export "$run" --out "$run/export-$p" \
            $([ $p = int8 ] && echo "--int8 --max-int8-drop 100")
    done
done
exports=()
for run in "$T" "$HEADS" "$R/h0.3-f0.6" "$R/h0.3-f0.6-g1" "$R/h0.3-f0.6-v" "$R/h0.5-f0.6"; do exports+=("$run/export-fp32" "$run/export-int8"); done
$EM bench "${exports[@]}" --data asdiv-a:0 --threads 1 --out bench/results/history/beyond-heads-session4-asdiv-a-0.json
