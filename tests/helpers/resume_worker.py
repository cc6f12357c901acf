"""Run by the resume tests: train a two-player model on random images (12 batches an epoch), checkpointing every 4
steps, or with --epoch-checkpoints at the end of every epoch after a validation batch (the way ``gimzoo fit``
checkpoints).

    python resume_worker.py OUT_DIR MAX_STEPS [KILL_AT_STEP] [--resume] [--epoch-checkpoints]

With KILL_AT_STEP the process SIGKILLs itself right after that step (after a checkpoint); with --resume it continues
from ``last.ckpt``. At the end it saves the final weights.
"""
import os
import signal
import sys

import lightning as L
import torch

import gimzoo
from gimzoo.callbacks import AtomicCheckpointIO
from gimzoo.data import RandomImages


class KillAt(L.Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def main():
    out, max_steps = sys.argv[1], int(sys.argv[2])
    kill = [KillAt(int(sys.argv[3]))] if len(sys.argv) > 3 and not sys.argv[3].startswith("--") else []
    per_epoch = "--epoch-checkpoints" in sys.argv
    torch.set_num_threads(1)
    L.seed_everything(0, verbose=False)
    model = gimzoo.create("aae", hidden=(16,), critic_hidden=(16,), critic_steps=2)
    ckpt = L.pytorch.callbacks.ModelCheckpoint(dirpath=os.path.join(out, "ckpt"), save_last=True, save_top_k=-1,
                                               every_n_train_steps=None if per_epoch else 4)
    trainer = L.Trainer(max_steps=max_steps, accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=int(per_epoch), num_sanity_val_steps=0,
                        callbacks=[ckpt, *kill], plugins=[AtomicCheckpointIO()], default_root_dir=out)
    data = RandomImages(n_train=16 * 12 + 16, batch_size=16, val_size=16)  # 12 batches an epoch
    trainer.fit(model, datamodule=data, ckpt_path="last" if "--resume" in sys.argv else None)
    torch.save({k: v for k, v in model.state_dict().items()}, os.path.join(out, "final.pt"))


if __name__ == "__main__":
    main()
