"""Files written atomically (a temporary file in the target folder, then ``os.replace``), and their sha256.

A kill during a write leaves the previous file (or none), never a half-written one.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import torch


def sha256_of(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _temporary(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    os.chmod(name, 0o644)
    return name


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    path = Path(path)
    tmp = _temporary(path)
    Path(tmp).write_text(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def atomic_save_safetensors(state: dict[str, torch.Tensor], path: str | os.PathLike,
                            metadata: dict[str, str] | None = None) -> None:
    from safetensors.torch import save_file

    path = Path(path)
    tmp = _temporary(path)
    try:
        save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, tmp, metadata=metadata)
        os.chmod(tmp, 0o644)  # readable like any shipped file, whatever the writer's umask
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
