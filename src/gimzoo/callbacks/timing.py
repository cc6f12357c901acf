"""Wall-clock seconds of every training epoch, logged as ``time/epoch_s`` (validation excluded)."""
from __future__ import annotations

import time

import lightning as L


class EpochTimer(L.Callback):
    def on_train_start(self, trainer, pl_module):
        # a run resumed in the middle of an epoch starts there without on_train_epoch_start: its first epoch time
        # counts from the resume
        self._t0 = time.perf_counter()

    def on_train_epoch_start(self, trainer, pl_module):
        self._t0 = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        pl_module.log("time/epoch_s", time.perf_counter() - self._t0, on_step=False, on_epoch=True, sync_dist=True,
                      reduce_fx="max")
