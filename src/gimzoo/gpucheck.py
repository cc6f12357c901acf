"""``make gpu-check``: every model on random 3x64x64 images, on a GPU machine, in one short run.

For each registered model (its ``<model>-celeba64.yaml`` recipe with random images of that shape): ``--steps``
training batches in ``16-mixed`` and in ``bf16-mixed`` on one GPU, timed after a warm-up, with the peak GPU memory;
then, where the machine has more than one GPU, a short DDP run on all of them. It prints a Markdown table (model,
precision, samples/s, peak memory) and exits non-zero if any run failed, or if there is no CUDA GPU.

    python -m gimzoo.gpucheck [--steps 200] [--warmup 20] [--models vae bigan]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
import traceback
from pathlib import Path

import torch

from .cli import CONFIG_DIR

RANDOM = ("--data=gimzoo.data.RandomImages", "--data.data_shape=[3, 64, 64]", "--data.n_train=2048",
          "--data.val_size=64", "--data.n_test=64")


def single_gpu(name: str, precision: str, steps: int, warmup: int) -> dict:
    from .bench import gimzoo_run

    torch.cuda.reset_peak_memory_stats()
    speed, warm = gimzoo_run(str(CONFIG_DIR / f"{name}-celeba64.yaml"), warmup, steps,
                             (*RANDOM, f"--trainer.precision={precision}", "--trainer.devices=1",
                              "--trainer.accelerator=gpu"))
    return {"samples_per_s": speed, "warmup_s": warm, "peak_gb": torch.cuda.max_memory_allocated() / 2**30}


def all_gpus(name: str, steps: int) -> dict:
    """A DDP run on every GPU (the CLI picks the model's strategy), through the ``gimzoo`` command."""
    t0 = time.time()
    out = subprocess.run([str(Path(sys.executable).with_name("gimzoo")), "fit", "--config",
                          str(CONFIG_DIR / f"{name}-celeba64.yaml"), *RANDOM, "--trainer.devices=-1",
                          "--trainer.accelerator=gpu", "--trainer.precision=bf16-mixed", f"--trainer.max_steps={steps}",
                          "--trainer.logger=false", "--trainer.enable_checkpointing=false",
                          "--trainer.enable_progress_bar=false", "--evaluation.every_n_epochs=0",
                          "--trainer.default_root_dir=runs/gpu-check"], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return {"seconds": time.time() - t0}


def main(argv: list[str] | None = None) -> int:
    from .registry import list_models

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--models", nargs="*", default=None)
    a = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu-check: no CUDA GPU on this machine; nothing was run", file=sys.stderr)
        return 2
    gpus = torch.cuda.device_count()
    print(f"# {torch.cuda.get_device_name(0)} x {gpus}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}")
    print("| model | precision | samples/s | peak memory (GiB) | warm-up (s) |")
    print("|---|---|---|---|---|")
    failures = []
    for name in a.models or list_models():
        for precision in ("16-mixed", "bf16-mixed"):
            try:
                r = single_gpu(name, precision, a.steps, a.warmup)
                print(f"| `{name}` | {precision} | {r['samples_per_s']:,.0f} | {r['peak_gb']:.2f} | {r['warmup_s']:.1f} |",
                      flush=True)
            except Exception:  # report every failure, then fail the check
                failures.append((name, precision, traceback.format_exc()))
                print(f"| `{name}` | {precision} | FAILED | | |", flush=True)
        if gpus > 1:
            try:
                print(f"| `{name}` | DDP x {gpus}, bf16-mixed | {all_gpus(name, a.steps)['seconds']:.0f} s | | |", flush=True)
            except Exception:
                failures.append((name, f"DDP x {gpus}", traceback.format_exc()))
                print(f"| `{name}` | DDP x {gpus} | FAILED | | |", flush=True)
    for name, what, tb in failures:
        print(f"\n{name} {what} failed:\n{tb}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
