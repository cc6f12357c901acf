"""Training throughput of gimzoo next to a plain PyTorch loop over the same networks, batch size and data.

    python -m gimzoo.bench --config zoo_configs/vae-mnist.yaml [--steps 1000] [--warmup 50] [--repeats 5]

Both sides train the VAE's encoder and decoder with Adam on the same in-memory MNIST batches; the
plain loop writes the negative ELBO inline. Throughput is samples per second over ``steps`` steps
after ``warmup`` steps, the median of ``repeats`` interleaved runs. gimzoo runs through the Lightning
Trainer with the progress bar, logger, checkpointing and validation off (they are I/O, not training);
``self.log`` of every term stays on. The data pipeline alone is timed too.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import lightning as L
import torch
import torch.nn.functional as F

from .cli import build
from .data import TensorBatches

QUIET = ("--trainer.logger=false", "--trainer.enable_checkpointing=false", "--trainer.enable_progress_bar=false",
         "--trainer.enable_model_summary=false", "--trainer.limit_val_batches=0", "--trainer.num_sanity_val_steps=0")


class StepTimer(L.Callback):
    def __init__(self, warmup: int):
        self.warmup, self.t0, self.t1, self.steps = warmup, None, None, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.steps == self.warmup:
            self.t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps += 1
        self.t1 = time.perf_counter()


def gimzoo_throughput(config: str, warmup: int, steps: int) -> float:
    cli = build(config, *QUIET, f"--trainer.max_steps={warmup + steps}", "--trainer.max_epochs=-1")
    timer = StepTimer(warmup)
    cli.trainer.callbacks.append(timer)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return steps * cli.datamodule.batch_size / (timer.t1 - timer.t0)


def plain_throughput(config: str, warmup: int, steps: int) -> float:
    cli = build(config, *QUIET)
    model, dm = cli.model, cli.datamodule
    dm.setup()
    enc, dec = model.encoder, model.decoder  # the same networks, outside Lightning
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=model.lr, betas=model.betas)
    x_all, y_all = dm.split("train")
    batches = TensorBatches(x_all, y_all, dm.batch_size, shuffle=True, drop_last=True, seed=dm.seed)
    step, epoch, t0 = 0, 0, None
    while step < warmup + steps:
        batches.sampler.set_epoch(epoch)
        for x, _ in batches:
            if step == warmup:
                t0 = time.perf_counter()
            mu, logvar = enc(x)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            nll = F.binary_cross_entropy_with_logits(dec(z)[0], x, reduction="sum") / len(x)
            kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum() / len(x)
            opt.zero_grad(set_to_none=True)
            (nll + kl).backward()
            opt.step()
            step += 1
            if step == warmup + steps:
                break
        epoch += 1
    return steps * dm.batch_size / (time.perf_counter() - t0)


def data_throughput(config: str, epochs: int = 3) -> float:
    dm = build(config, *QUIET).datamodule
    dm.setup()
    loader = dm.train_dataloader()
    n, t0 = 0, time.perf_counter()
    for e in range(epochs):
        loader.sampler.set_epoch(e)
        for x, y in loader:
            n += len(x)
    return n / (time.perf_counter() - t0)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="zoo_configs/vae-mnist.yaml")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", default=None, help="also write the results here")
    a = ap.parse_args(argv)
    L.seed_everything(0, verbose=False)
    runs: dict[str, list[float]] = {"plain": [], "gimzoo": []}
    for _ in range(a.repeats):  # interleaved, so drifts in machine load hit both sides alike
        runs["plain"].append(plain_throughput(a.config, a.warmup, a.steps))
        runs["gimzoo"].append(gimzoo_throughput(a.config, a.warmup, a.steps))
    med = {k: statistics.median(v) for k, v in runs.items()}
    result = {
        "config": a.config, "steps": a.steps, "warmup": a.warmup, "repeats": a.repeats,
        "plain_samples_per_s": med["plain"], "gimzoo_samples_per_s": med["gimzoo"],
        "ratio": med["gimzoo"] / med["plain"], "data_pipeline_samples_per_s": data_throughput(a.config),
        "all_runs": runs, "torch": torch.__version__, "lightning": L.__version__, "threads": torch.get_num_threads(),
        "machine": f"{cpu_name()}, {os.cpu_count()} cores",
    }
    print(f"config {a.config}: {a.steps} steps after {a.warmup} warm-up, median of {a.repeats}, "
          f"{result['threads']} threads, {result['machine']}")
    print(f"  plain PyTorch loop : {med['plain']:10.0f} samples/s")
    print(f"  gimzoo (Lightning) : {med['gimzoo']:10.0f} samples/s")
    print(f"  ratio gimzoo/plain : {result['ratio']:10.3f}")
    print(f"  data pipeline alone: {result['data_pipeline_samples_per_s']:10.0f} samples/s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
