#!/usr/bin/env bash
# GPU readiness check (issues #17 and #16): ~10 minutes on one CUDA machine, a timeout per step,
# one figure line per step ("gpu_check STEP: ok|FAIL|timeout|skipped ...").
#
#   bench/gpu_check.sh [--model 7B_FOLDER_OR_HUB_ID] [--adapter DIR]... [--out DIR] [--dry-run]
#
# Steps: versions and compute capability; the bundled model on CUDA (continuous decoder vs
# `model.generate`, float32 and bfloat16, peak memory); a ~20-step QLoRA run; the --model on
# gsm8k with HF and vLLM (base + 2 adapters: the --adapter folders, else the QLoRA one);
# `harness parity`; `harness gate` on those runs; the GPU-capable tests; and the multi-GPU
# steps of #16 (Ray replicas, `harness train --num-processes 2`), skipped with fewer than 2 GPUs.
# --dry-run runs the CPU-safe parts (versions, the bundled decoder on CPU in float32, the mocked
# device tests, the multi-GPU guards) and says "skipped: <reason>" for the rest.
set -uo pipefail
cd "$(dirname "$0")/.."

MODEL="" ADAPTERS=() OUT="" DRY=0 LIMIT=${GPU_CHECK_LIMIT:-50}
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL=$2; shift 2 ;;
    --adapter) ADAPTERS+=("$2"); shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "gpu_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-python}
HARNESS=("$PY" -c "import sys; sys.argv[0] = 'harness'; from harness.cli import main; main()")
OUT=${OUT:-$(mktemp -d /tmp/gpu_check.XXXXXX)}
mkdir -p "$OUT"
# This checkout's harness, whatever is installed.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} HF_DATASETS_OFFLINE=${HF_DATASETS_OFFLINE:-1}
GPUS=$("$PY" -c "import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)" 2>/dev/null || echo 0)
echo "gpu_check: $GPUS GPU(s), logs in $OUT$([ $DRY = 1 ] && echo ', dry run')"

skip() { echo "gpu_check $1: skipped: $2"; }

# step NAME TIMEOUT_S CMD... : runs CMD under a timeout into OUT/NAME.log; prints the status,
# the time and the log's last "figure:" line (else its last line: pytest's summary, an error).
step() {
  local name=$1 limit=$2; shift 2
  local log="$OUT/$name.log" t0=$SECONDS rc
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1; rc=$?
  local took=$((SECONDS - t0)) status=ok fig
  fig=$(grep -a '^figure:' "$log" | tail -1 | sed 's/^figure: *//')
  if [ $rc = 124 ] || [ $rc = 137 ]; then status="timeout after ${limit}s"
  elif [ $rc != 0 ]; then status="FAIL (exit $rc)"; fi
  fig=${fig:-$(tail -1 "$log")}
  echo "gpu_check $name: $status ${took}s | ${fig:-no figure}"
  return $rc
}

# `harness run` of the --model on gsm8k with BACKEND, base + adapters; figures per variant.
eval_gsm8k() {
  local backend=$1 args=()
  for a in "${ADAPTERS[@]}"; do args+=(--adapter "$a"); done
  step "gsm8k_$backend" 600 "$PY" bench/gpu_probe.py run-json --metric flexible_match -- \
    run --task gsm8k --model "$MODEL" --backend "$backend" --limit "$LIMIT" --base "${args[@]}" \
    -o "$OUT/runs-$backend" --no-cache
}

step versions 120 "$PY" bench/gpu_probe.py versions

if [ "$DRY" = 1 ] || [ "$GPUS" = 0 ]; then
  step bundled_decode 300 "$PY" bench/gpu_probe.py decode --device cpu --dtypes float32 --n 2
  step device_tests 300 "$PY" -m pytest -q -p no:cacheprovider tests/harness/test_device.py \
    tests/adapters/test_train_devices.py tests/test_setup_script.py
  for s in qlora gsm8k_hf gsm8k_vllm parity gate gpu_tests; do skip "$s" "needs a CUDA GPU"; done
else
  step bundled_decode 300 "$PY" bench/gpu_probe.py decode --device cuda --dtypes float32,bfloat16
  if [ -n "$MODEL" ]; then
    step qlora 420 "${HARNESS[@]}" train --task viggo --model "$MODEL" --recipe default \
      lora.quantize_4bit=true max_steps=20 validation.every_steps=10 --out "$OUT/qlora"
    [ ${#ADAPTERS[@]} = 0 ] && [ -f "$OUT/qlora/adapter_config.json" ] && ADAPTERS=("$OUT/qlora")
    eval_gsm8k hf
    eval_gsm8k vllm
  else
    for s in qlora gsm8k_hf gsm8k_vllm; do skip "$s" "no --model given (a 7B-class folder or hub id)"; done
  fi
  step parity 600 "${HARNESS[@]}" parity --task gsm8k -n 20 ${MODEL:+--model "$MODEL"}
  if [ -d "$OUT/runs-hf" ]; then
    cat >"$OUT/gate.yaml" <<'YAML'
version: 1
alpha: 0.05
on_inconclusive: pass
checks:
  - task: gsm8k
    metric: flexible_match
    max_regression: 0.5
YAML
    step gate 120 "${HARNESS[@]}" gate --policy "$OUT/gate.yaml" --candidate "$OUT/runs-hf"
  else
    skip gate "no gsm8k runs to gate (needs --model)"
  fi
  step gpu_tests 600 env HARNESS_TEST_GPU=1 "$PY" -m pytest -q -p no:cacheprovider -m gpu_capable
fi

# Issue #16 item 4: the multi-GPU steps, guarded on the GPU count and on the commands existing.
has_flag() { "${HARNESS[@]}" "$1" --help 2>/dev/null | grep -q -- "$2"; }
if [ "$GPUS" -lt 2 ]; then
  skip ray_replicas "fewer than 2 GPUs ($GPUS)"; skip train_ddp "fewer than 2 GPUs ($GPUS)"
else
  if has_flag run --ray; then
    step ray_replicas 600 "${HARNESS[@]}" run --task gsm8k --limit "$LIMIT" --ray --replicas 2 \
      ${MODEL:+--model "$MODEL"} --backend vllm -o "$OUT/runs-ray" --no-cache
  else
    skip ray_replicas "harness run has no --ray option in this build"
  fi
  if has_flag train --num-processes; then
    step train_ddp 600 "${HARNESS[@]}" train --task viggo --num-processes 2 max_steps=20 \
      ${MODEL:+--model "$MODEL"} --out "$OUT/ddp"
  else
    skip train_ddp "harness train has no --num-processes option in this build"
  fi
fi
echo "gpu_check: done; logs in $OUT"
