"""Where and in which number format PyTorch computes: the devices and precisions the backend and its session share."""

from __future__ import annotations

import torch

from cnnpipe.backend import parse_device
from cnnpipe.errors import UsageError

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def device_of(device: str) -> torch.device:
    """The book's ``try_gpu`` on CUDA: a GPU when asked for or, with ``auto``, when one is present."""
    kind, index = parse_device(device)
    if kind == "cpu":
        return torch.device("cpu")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if kind == "auto":
        return torch.device("cuda", 0) if count else torch.device("cpu")
    if index >= count:
        hint = "" if torch.version.cuda else f" (PyTorch {torch.__version__} is a CPU build; install its CUDA build)"
        raise UsageError(f"--device {device}: this machine has {count} GPU(s) usable by PyTorch{hint}")
    return torch.device("cuda", index)
