"""Run by the multi-device tests: models trained one after another by the same 2 CPU processes (gloo, one process
group), on random images; rank 0 writes a JSON report per model, OUT_DIR/MODEL/report.json.

    python ddp_worker.py MODEL[,MODEL...] OUT_DIR STRATEGY|auto [NUM_NODES]   (COMPILE=1: built with compile=True)

STRATEGY auto: each model's own (``ddp_strategy``). Lightning launches the second rank at the first fit; later fits
reuse both processes and the process group.

Each rank seeds differently before building the model, so identical weights at the start of fit prove the
broadcast. Every rank records the images it trained on, so overlap between the shards is visible.
"""
import json
import os
import sys

import lightning as L
import torch

import gimzoo
from gimzoo.callbacks import AtomicCheckpointIO
from gimzoo.data import RandomImages

SMALL = {"hidden": (16,), "critic_hidden": (16,)}
ARGS = {"vae": {"hidden": (16,)}, "beta-vae": {"hidden": (16,)}, "infovae": {"hidden": (16,)},
        "wae": {"hidden": (16,)}, "infogan": {"arch": "mlp", **SMALL}}


def checksum(module) -> torch.Tensor:
    return torch.stack([p.detach().double().sum() for p in module.parameters()]).sum()


class Probe(L.Callback):
    def __init__(self, created: torch.Tensor):
        self.created = created  # this rank's weights as built, before Lightning wraps the model

    def on_fit_start(self, trainer, pl_module):
        self.created = trainer.strategy.all_gather(self.created).tolist()
        self.start = trainer.strategy.all_gather(checksum(pl_module)).tolist()
        self.seen = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.seen.append(batch[0].flatten(1)[:, :3].clone())

    def on_train_end(self, trainer, pl_module):
        seen = trainer.strategy.all_gather(torch.cat(self.seen))  # (world, n, 3)
        end = trainer.strategy.all_gather(checksum(pl_module)).tolist()
        val = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        vals = trainer.strategy.all_gather(torch.tensor(sorted(val.items())[0][1]))
        if trainer.is_global_zero:
            per_rank = [{tuple(round(v, 6) for v in row) for row in r.tolist()} for r in seen]
            report = {"world_size": trainer.world_size, "created": self.created, "start": self.start, "end": end,
                      "per_rank": [len(r) for r in per_rank], "overlap": len(per_rank[0] & per_rank[1]),
                      "val_on_ranks": vals.tolist()}
            with open(os.path.join(trainer.default_root_dir, "report.json"), "w") as f:
                json.dump(report, f)


def fit(name: str, out: str, strategy: str, num_nodes: int):
    torch.manual_seed(int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", 0))) + 100 * int(os.environ.get("NODE_RANK", 0)))
    model = gimzoo.create(name, **ARGS.get(name, SMALL), compile=os.environ.get("COMPILE") == "1")
    steps = getattr(model, "critic_steps", 1)
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", devices=2 // num_nodes, num_nodes=num_nodes,
                        strategy=model.ddp_strategy if strategy == "auto" else strategy, logger=False,
                        default_root_dir=os.path.join(out, name), enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[Probe(checksum(model))], plugins=[AtomicCheckpointIO()])
    data = RandomImages(data_shape=model.data_shape, n_train=16 * 2 * (steps + 1) + 32, batch_size=16, val_size=32)
    trainer.fit(model, datamodule=data)


def main():
    names, out, strategy = sys.argv[1].split(","), sys.argv[2], sys.argv[3]
    num_nodes = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    for name in names:
        fit(name, out, strategy, num_nodes)
    if torch.distributed.is_initialized():  # leave gloo cleanly: its threads can abort an interpreter at exit
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
