# Sourced by the bench scripts: `job NAME OUTDIR CMD...` runs CMD once, logging to
# $RUNS/logs/NAME.log; skipped when OUTDIR/manifest.json exists (finished), returns 1 on failure.
job() {
  local name=$1 out=$2; shift 2
  if [ -f "$out/manifest.json" ]; then echo "skip $name (done)"; return 0; fi
  echo "$(date +%T) start $name"
  if "$@" > "$RUNS/logs/$name.log" 2>&1; then echo "$(date +%T) done $name"
  else echo "$(date +%T) FAILED $name (see $RUNS/logs/$name.log)"; return 1; fi
}
