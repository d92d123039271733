"""Device and thread selection for torch computations."""

from __future__ import annotations

import os

import torch

DEVICE_CHOICES = ("cpu", "cuda", "auto")


def resolve_device(name: str) -> torch.device:
    """Map a config value ``cpu | cuda | auto`` to a torch device.

    ``auto`` picks CUDA when available, else the CPU. ``cuda`` without a GPU is an error, not a
    silent fallback, so a paper-scale job never runs on the wrong machine unnoticed.
    """
    if name not in DEVICE_CHOICES:
        raise ValueError(f"device must be one of {DEVICE_CHOICES}, got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch sees no CUDA device; use 'cpu' or 'auto'")
    return torch.device(name)


def device_description(device: torch.device) -> str:
    """Human-readable device name recorded in every dataset (GPU model on CUDA)."""
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return "cpu"


def configure_threads(threads: int | None = None) -> int:
    """Make torch use ``threads`` intra-op threads (default: ``OMP_NUM_THREADS`` set by Snakemake)."""
    if threads is None:
        threads = int(os.environ.get("OMP_NUM_THREADS", "0")) or torch.get_num_threads()
    torch.set_num_threads(max(1, int(threads)))
    return torch.get_num_threads()


def set_deterministic() -> None:
    """Ask torch for deterministic kernels (also on CUDA, where cuBLAS needs a workspace config).

    Sets the eager-mode flag directly: ``torch.use_deterministic_algorithms`` also imports
    ``torch._inductor.config`` to set the same flag for ``torch.compile``, which the library never
    uses; that import costs about a second of every job's start-up."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    set_flag = getattr(torch._C, "_set_deterministic_algorithms", None)
    if set_flag is None:  # a torch without the private setter: the public (slower) call
        torch.use_deterministic_algorithms(True)
    else:
        set_flag(True, warn_only=False)
