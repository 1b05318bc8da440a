"""The benchmark scripts in bench/ that can be checked without a GPU."""

import subprocess

import pytest
from django.conf import settings


def test_the_gpu_check_refuses_clearly_where_torch_sees_no_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible: the check would run a real job")

    done = subprocess.run(
        ["bench/gpu_check.sh"], cwd=settings.BASE_DIR, capture_output=True, text=True
    )

    assert done.returncode == 2
    assert "no CUDA GPU is visible" in done.stderr
