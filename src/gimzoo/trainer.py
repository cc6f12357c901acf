"""gimzoo's Trainer: Lightning's, with ``precision="auto"`` and run outputs under ``runs/``.

* ``precision="auto"`` picks the precision that is fast on the machine that trains:

  - on a CPU, ``bf16-mixed`` where the CPU has bfloat16 units (x86 AVX-512 BF16 or AMX, ARM's BF16
    extension), else ``32-true``: without those units bfloat16 is emulated, and slower than float32;
  - on a CUDA GPU, ``bf16-mixed`` where the GPU supports bfloat16 (Ampere and later), else ``16-mixed``;
  - on any other accelerator, ``32-true``.

* ``default_root_dir`` defaults to ``runs``, so a run without a logger (``--trainer.logger false``,
  ``fast_dev_run``) writes its checkpoints and grids under ``runs/``, never into the working directory.
"""
from __future__ import annotations

import platform
from pathlib import Path
from typing import Literal, Union

import lightning as L
import torch
from lightning.fabric.plugins.precision.precision import _PRECISION_INPUT

#: where runs write when neither a logger nor ``default_root_dir`` says otherwise
DEFAULT_ROOT_DIR = "runs"
#: the CPU flags (``/proc/cpuinfo``) of hardware bfloat16 arithmetic: x86 AVX-512 BF16 and AMX, ARM BF16
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "bf16"})


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The feature flags of the first CPU in ``/proc/cpuinfo`` (x86 ``flags``, ARM ``Features``); empty elsewhere."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


def cpu_has_bf16(flags: set[str] | None = None) -> bool:
    """True where the CPU computes in bfloat16 natively (on macOS, Apple's chips from M2 on report it to sysctl)."""
    flags = cpu_flags() if flags is None else flags
    if flags & BF16_CPU_FLAGS:
        return True
    if not flags and platform.system() == "Darwin":
        import subprocess

        out = subprocess.run(["sysctl", "-n", "hw.optional.arm.FEAT_BF16"], capture_output=True, text=True)
        return out.stdout.strip() == "1"
    return False


def accelerator_name(accelerator) -> str:
    """Lightning's ``accelerator`` flag as a name: ``"cpu"`` for ``"cpu"`` or a ``CPUAccelerator``, and so on."""
    return accelerator if isinstance(accelerator, str) else type(accelerator).__name__.lower().replace("accelerator", "")


def auto_precision(accelerator="auto") -> str:
    """The precision ``"auto"`` stands for on ``accelerator`` (see the module docstring)."""
    name = accelerator_name(accelerator)
    if name in ("auto", "cuda", "gpu") and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    if name in ("auto", "cpu"):
        return "bf16-mixed" if cpu_has_bf16() else "32-true"
    return "32-true"


class Trainer(L.Trainer):
    """``lightning.Trainer`` that also takes ``precision="auto"`` and defaults ``default_root_dir`` to ``runs``."""

    def __init__(self, *args, precision: Union[_PRECISION_INPUT, Literal["auto"], None] = None,
                 default_root_dir: str | Path | None = DEFAULT_ROOT_DIR, **kwargs):
        """
        Args:
            precision: any of Lightning's precisions, or ``"auto"`` (the fast one for this machine).
            default_root_dir: where a run writes when its logger does not say (default ``runs``).
            Every other argument is :class:`lightning.Trainer`'s.
        """
        if precision == "auto":
            precision = auto_precision(kwargs.get("accelerator", "auto"))
        super().__init__(*args, precision=precision, default_root_dir=default_root_dir, **kwargs)
