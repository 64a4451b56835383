#!/usr/bin/env bash
# One prepared GPU check: the `gpu` tests, then `act-edge bench` of the torch backend on CUDA
# (fp16 + CUDA graph, compared in the same run with PyTorch eager fp32) for the aloha-sim and
# aloha-real presets, then a JSON + markdown summary. Under 8 minutes on a CUDA GPU; installs nothing
# (it uses the torch, torchvision, onnx and onnxruntime already there) and runs from a checkout.
#
#   tools/gpu_check.sh [OUTDIR] [--cpu-dry-run]      OUTDIR: default $OUT, else ./gpu-check
#
# --cpu-dry-run: the same plumbing on CPU in seconds (the gpu tests skip; the `tiny` preset, fp32,
# torch backend on cpu, few iterations): proves the script end to end where no GPU is present.
# Environment: PYTHON (default python3), GPU_CHECK_BUDGET_S (default 450: later phases are skipped,
# and said so in the summary, once it is spent).
set -u -o pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DRY=0
DEST=""
for arg in "$@"; do
  case "$arg" in
    --cpu-dry-run) DRY=1 ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) echo "gpu_check.sh: unknown option $arg" >&2; exit 2 ;;
    *) DEST="$arg" ;;
  esac
done
DEST="${DEST:-${OUT:-./gpu-check}}"
PY="${PYTHON:-python3}"
BUDGET="${GPU_CHECK_BUDGET_S:-450}"
mkdir -p "$DEST" || { echo "gpu_check.sh: cannot create $DEST" >&2; exit 2; }
DEST="$(cd "$DEST" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
cd "$REPO"
PHASES="$DEST/phases.tsv"   # name \t status \t seconds \t note (read by the summary)
: > "$PHASES"
SECONDS=0

log() { echo "[gpu-check ${SECONDS}s] $*" | tee -a "$DEST/log.txt" >&2; }

# phase NAME LIMIT_S CMD...: run CMD with a time limit, its output in $DEST/NAME.log, and record it.
phase() {
  local name="$1" limit="$2"; shift 2
  local left=$((BUDGET - SECONDS))
  if (( left < 20 )); then
    log "$name: skipped (time budget of ${BUDGET}s spent)"
    printf '%s\tskipped\t0\ttime budget spent\n' "$name" >> "$PHASES"
    return 0
  fi
  (( limit > left )) && limit=$left
  log "$name: $* (limit ${limit}s)"
  local t0=$SECONDS rc=0
  timeout --signal=TERM --kill-after=10 "$limit" "$@" > "$DEST/$name.log" 2>&1 || rc=$?
  local status=ok note=""
  if (( rc == 124 || rc == 137 )); then status=timeout; note="killed after ${limit}s"
  elif (( rc != 0 )); then status=failed; note="exit $rc: $(tail -n 1 "$DEST/$name.log" | cut -c1-200)"; fi
  printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - t0))" "$note" >> "$PHASES"
  log "$name: $status ($((SECONDS - t0))s) $note"
}

log "repo $REPO, python $("$PY" -c 'import sys; print(sys.version.split()[0])'), output $DEST, dry run $DRY"
phase preflight 60 "$PY" - "$DEST/preflight.json" "$DRY" <<'PYEOF'
import importlib, importlib.util, json, sys
out, dry = sys.argv[1], sys.argv[2] == "1"
facts = {}
for name in ("numpy", "torch", "torchvision", "onnx", "onnxruntime"):
    try:
        facts[name] = getattr(importlib.import_module(name), "__version__", "?")
    except Exception as exc:
        facts[name] = None
        facts[name + "_error"] = f"{type(exc).__name__}: {exc}"
cuda = None
if facts.get("torch"):
    import torch
    cuda = {"available": torch.cuda.is_available(), "build": torch.version.cuda,
            "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
facts["cuda"] = cuda
json.dump(facts, open(out, "w"), indent=2)
print(json.dumps(facts))
missing = [n for n in ("torch", "onnx", "onnxruntime") if not facts.get(n)]
if missing:
    sys.exit(f"missing: {', '.join(missing)} (this script installs nothing)")
if not dry and not (cuda and cuda["available"]):
    sys.exit("no CUDA device (torch.cuda.is_available() is False); use --cpu-dry-run to test the plumbing")
PYEOF
if ! grep -q $'^preflight\tok' "$PHASES"; then
  log "preflight failed: $(tail -n 1 "$DEST/preflight.log")"
  "$PY" tools/gpu_check_summary.py "$DEST" --dry-run "$DRY"
  exit 1
fi

phase doctor 60 "$PY" -m act_edge doctor --json
cp "$DEST/doctor.log" "$DEST/doctor.json" 2>/dev/null || true

phase gpu-tests 200 "$PY" -m pytest tests/test_gpu.py -m gpu -q -rA -p no:cacheprovider \
  --junitxml="$DEST/gpu-tests.xml"

if (( DRY )); then
  PRESETS=(tiny); PREC=fp32; DEVICE=cpu; ITERS=5; WARM=2; DUR=1
else
  PRESETS=(aloha-sim aloha-real); PREC=fp16; DEVICE=cuda:0; ITERS=100; WARM=20; DUR=5
fi
for preset in "${PRESETS[@]}"; do
  ckpt="$WORK/$preset.pt"
  phase "export-$preset" 150 bash -c "'$PY' -m act_edge init --preset '$preset' -o '$ckpt' && \
    '$PY' -m act_edge export '$ckpt' --max-batch 1 -o '$WORK/$preset.actedge'"
  [[ -f "$WORK/$preset.actedge/manifest.json" ]] || continue
  # torch backend, $PREC (+ CUDA graph on CUDA, the backend's default) vs PyTorch eager fp32 (--compare).
  phase "bench-$preset" 120 "$PY" -m act_edge bench "$WORK/$preset.actedge" --backend torch \
    --device "$DEVICE" --precision "$PREC" --compare "$ckpt" --iters "$ITERS" --warmup "$WARM" \
    --duration "$DUR" -q --json "$DEST/bench-$preset.json"
done

"$PY" tools/gpu_check_summary.py "$DEST" --dry-run "$DRY"
log "done in ${SECONDS}s: $DEST/summary.json, $DEST/summary.md"
! grep -qv $'\tok\t' "$PHASES"
