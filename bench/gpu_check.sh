#!/usr/bin/env bash
# One short DPO job on the default base model through the portal's worker, on a
# CUDA GPU: prints the device, steps/s, tokens/s and peak GPU memory.
#
#   bench/gpu_check.sh [--pairs 64] [--epochs 1] [--batch-size 8]
#
# Needs the CUDA build of torch in .venv (the CPU build this repository pins
# cannot see a GPU) and the default base model prepared. Refuses without CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}

if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: no CUDA GPU is visible to torch ($("$PYTHON" -c 'import torch; print(torch.__version__)')); nothing run." >&2
    echo "gpu_check: run it on a CUDA machine with a CUDA build of torch." >&2
    exit 2
fi

"$PYTHON" -c 'import torch; print("gpu_check:", torch.cuda.get_device_name(0), "torch", torch.__version__)'
exec "$PYTHON" bench/train_bench.py --portal-only --pairs 64 --epochs 1 --batch-size 8 "$@"
