"""Checkpoints written atomically: Lightning's checkpoint saver writes to a temporary file in the same folder,
then ``os.replace`` puts it in place, so a kill during a write leaves the previous checkpoint intact
(Lightning's own saver truncates the target first)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lightning.pytorch.plugins.io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.partial")
        try:
            super().save_checkpoint(checkpoint, tmp, storage_options)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
