"""Periodic evaluation during training: a cheaper :func:`gimzoo.metrics.evaluate.evaluate` every N epochs.

By default every 5 epochs on 1,000 validation images (no linear probe, IWAE with 16 samples), logged as
``eval/<metric>``: fid_lenet for the 28x28 datasets, recon MSE, MMD(q(z), p(z)), 1-NN accuracy, the
scorecard terms, clustering and mode coverage where they apply. It runs on rank 0, in eval mode, with its
own random state, so training's random stream is the same with or without it. With a weight-averaging
callback (Lightning's ``EMAWeightAveraging``) it evaluates the averaged weights, the ones the checkpoint holds
and ``gimzoo eval`` scores, as Lightning's own validation does.
"""
from __future__ import annotations

import contextlib
import math

import lightning as L
from lightning.pytorch.callbacks import WeightAveraging


@contextlib.contextmanager
def averaged_weights(trainer: L.Trainer, pl_module: L.LightningModule):
    """Swap the averaged weights of the trainer's weight-averaging callbacks into ``pl_module`` for the block and
    back after it (no-op without one, or before its first average). It uses the callback's own swap, the one
    Lightning's validation hooks call (private in Lightning 2.6; a test checks the weights evaluated)."""
    swaps = [cb for cb in trainer.callbacks if isinstance(cb, WeightAveraging) and cb._average_model is not None]
    for cb in swaps:
        cb._swap_models(pl_module)
    try:
        yield
    finally:
        for cb in reversed(swaps):
            cb._swap_models(pl_module)


class PeriodicEvaluation(L.Callback):
    def __init__(self, every_n_epochs: int = 5, n: int = 1000, split: str = "val", iwae_k: int = 16):
        """
        Args:
            every_n_epochs: evaluate after every this many training epochs (0 turns it off).
            n: evaluation images (and samples).
            split: ``val`` during training; the test split is kept for ``gimzoo eval``.
            iwae_k: importance samples of the IWAE bound.
        """
        self.every_n_epochs, self.n, self.split, self.iwae_k = every_n_epochs, n, split, iwae_k

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from ..metrics.evaluate import evaluate

        if not self.every_n_epochs or (trainer.current_epoch + 1) % self.every_n_epochs or trainer.sanity_checking:
            return
        dm = trainer.datamodule
        if dm is None or not hasattr(dm, "split"):
            return
        result = None
        if trainer.is_global_zero:
            was_training = pl_module.training
            with averaged_weights(trainer, pl_module):
                result = evaluate(pl_module, dm, n=min(self.n, len(dm.split(self.split)[0])), split=self.split,
                                  iwae_k=self.iwae_k, probe=False)
            pl_module.train(was_training)
        values = {f"eval/{k}": float(v) for k, v in (result or {"metrics": {}})["metrics"].items()
                  if isinstance(v, (int, float)) and math.isfinite(v)}
        if values:
            pl_module.log_dict(values, rank_zero_only=True)
