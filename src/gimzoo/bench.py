"""Training throughput of gimzoo next to a plain PyTorch loop over the same networks, batch size and data.

    python -m gimzoo.bench --config zoo_configs/vae-mnist.yaml [--steps 1000] [--warmup 50] [--repeats 5]
    python -m gimzoo.bench --all [--steps 200] [--repeats 3]      # every model's MNIST config, a table

The plain loop trains the same networks with the same optimizers on the same in-memory batches without
Lightning: for the VAE it writes the negative ELBO inline; for every other model it calls the model's own
terms (``terms``, or ``critic_terms``/``model_terms`` alternated as the model does) with plain
``backward``/``step``. Throughput is samples per second over at least ``steps`` steps and ``min_seconds``
seconds after ``warmup`` steps (the fastest models need the seconds for a stable figure), the median of
``repeats`` interleaved runs. Both sides run on the device the Trainer picks and at the config's precision
(``--precision bf16-mixed`` overrides it): the plain loop then runs each step under ``torch.autocast``, with a
gradient scaler for ``16-mixed``, as Lightning's mixed-precision plugin does. gimzoo runs through the Lightning
Trainer with the progress bar, logger, checkpointing and validation off (they are I/O, not training); ``self.log``
of every term stays on. ``--all`` runs each model in its own process and reports its peak memory (resident set
size on CPU, peak allocated on CUDA). The data pipeline alone is timed too.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import time

import lightning as L
import torch
import torch.nn.functional as F

from .cli import build
from .data import TensorBatches
from .models import TwoPlayerModel
from .models.base import weighted_sum

QUIET = ("--trainer.logger=false", "--trainer.enable_checkpointing=false", "--trainer.enable_progress_bar=false",
         "--trainer.enable_model_summary=false", "--trainer.limit_val_batches=0", "--trainer.num_sanity_val_steps=0")


class StepTimer(L.Callback):
    """Times the training batches after ``warmup``, at least ``steps`` of them and at least ``min_seconds``, then
    stops the run (batches, not Lightning's global steps, which count every optimizer step of a two-player model)."""

    def __init__(self, warmup: int, steps: int, min_seconds: float = 0.0):
        self.warmup, self.steps, self.min_seconds = warmup, steps, min_seconds
        self.start, self.t0, self.t1, self.done, self.timed = None, None, None, 0, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.done == 0:
            self.start = time.perf_counter()
        if self.done == self.warmup:
            self.t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.done += 1
        if self.done > self.warmup:
            self.timed += 1
            now = time.perf_counter()
            if self.timed >= self.steps and now - self.t0 >= self.min_seconds:
                self.t1, trainer.should_stop = now, True


def gimzoo_run(config: str, warmup: int, steps: int, overrides: tuple[str, ...] = (),
               min_seconds: float = 0.0) -> tuple[float, float]:
    """(samples/s after the warm-up, seconds of the warm-up steps: with --model.compile, they hold the compiling)."""
    # the timer stops the run; a finite max_steps far beyond it keeps a learning-rate schedule (lr_decay) defined
    cli = build(config, *QUIET, *overrides, f"--trainer.max_steps={10**12}", "--trainer.max_epochs=-1")
    timer = StepTimer(warmup, steps, min_seconds)
    cli.trainer.callbacks.append(timer)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return timer.timed * cli.datamodule.batch_size / (timer.t1 - timer.t0), timer.t0 - timer.start


def gimzoo_throughput(config: str, warmup: int, steps: int, overrides: tuple[str, ...] = (),
                      min_seconds: float = 0.0) -> float:
    return gimzoo_run(config, warmup, steps, overrides, min_seconds)[0]


class Mixed:
    """What Lightning's precision plugin does around a step, written out: autocast for ``*-mixed`` precisions and
    a gradient scaler for float16."""

    def __init__(self, precision: str, device: torch.device):
        precision = str(precision)
        if precision not in ("32", "32-true", "bf16-mixed", "16-mixed"):
            raise ValueError(f"the plain loop runs precision 32-true, bf16-mixed or 16-mixed, not {precision!r}")
        self.dtype = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}.get(precision)
        self.device_type = device.type
        self.scaler = torch.amp.GradScaler(device.type) if self.dtype is torch.float16 else None

    def autocast(self):
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=self.dtype is not None)

    def backward_step(self, loss: torch.Tensor, opt, inputs=None):
        if self.scaler is None:
            torch.autograd.backward(loss, inputs=inputs)
            opt.step()
        else:
            torch.autograd.backward(self.scaler.scale(loss), inputs=inputs)
            self.scaler.step(opt)
            self.scaler.update()


def vae_step(model, opt, mixed: Mixed):
    """The VAE's step written out: negative ELBO with a Bernoulli decoder."""
    enc, dec = model.encoder, model.decoder

    def step(x, i):
        with mixed.autocast():
            mu, logvar = enc(x)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            nll = F.binary_cross_entropy_with_logits(dec(z)[0], x, reduction="sum") / len(x)
            kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum() / len(x)
        opt.zero_grad(set_to_none=True)
        mixed.backward_step(nll + kl, opt)

    return step


def terms_step(model, opts, mixed: Mixed):
    """Any model's step from its own terms, with plain backward/step and no Lightning."""
    if not isinstance(model, TwoPlayerModel):
        (opt,) = opts

        def single(x, i):
            opt.zero_grad(set_to_none=True)
            with mixed.autocast():
                loss = model.loss(model.terms(x))
            mixed.backward_step(loss, opt)

        return single
    opt_model, opt_critic = opts
    critic, players = model.critic_parameters(), model.model_parameters()

    def two_player(x, i):
        for opt, terms, weights, params in ((opt_critic, model.critic_terms, model.critic_weights, critic),
                                            (opt_model, model.model_terms, model.model_weights, players)):
            if opt is opt_model and (i + 1) % model.critic_steps:
                continue
            opt.zero_grad(set_to_none=True)
            with mixed.autocast():
                loss = weighted_sum(terms(x), weights())
            mixed.backward_step(loss, opt, inputs=params)

    return two_player


def plain_throughput(config: str, warmup: int, steps: int, overrides: tuple[str, ...] = (),
                     min_seconds: float = 0.0) -> float:
    cli = build(config, *QUIET, *overrides)
    model, dm = cli.model, cli.datamodule
    device = cli.trainer.strategy.root_device  # where the Trainer would train
    mixed = Mixed(cli.trainer.precision, device)
    dm.setup()
    model.to(device).train()
    opts = model.configure_optimizers()
    opts = opts if isinstance(opts, (tuple, list)) else (opts,)
    plain_vae = type(model).__name__ == "VAE" and model.beta == 1.0
    step_fn = vae_step(model, opts[0], mixed) if plain_vae else terms_step(model, opts, mixed)
    x_all, y_all = dm.split("train")  # as stored; the batches turn uint8 images into floats, as in training
    batches = TensorBatches(x_all, y_all, dm.batch_size, shuffle=True, drop_last=True, seed=dm.seed)
    step, epoch, t0, t1 = 0, 0, None, None
    while t1 is None:
        batches.sampler.set_epoch(epoch)
        for x, _ in batches:
            if step == warmup:
                t0 = time.perf_counter()
            step_fn(model.to_internal(x.to(device, non_blocking=True)), step)
            step += 1
            if step - warmup >= steps and time.perf_counter() - t0 >= min_seconds:  # the same rule as StepTimer
                t1 = time.perf_counter()
                break
        epoch += 1
    return (step - warmup) * dm.batch_size / (t1 - t0)


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


def peak_memory_mb() -> float:
    """Peak memory of this process: CUDA peak allocated if a GPU was used, else the peak resident set size."""
    if torch.cuda.is_available() and torch.cuda.max_memory_allocated():
        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: the sides that ``bench_config`` times, each a set of overrides of the config
SIDES = {"gimzoo": (), "compiled": ("--model.compile=true",)}


def bench_config(config: str, warmup: int, steps: int, repeats: int, min_seconds: float = 0.0,
                 precision: str | None = None, compiled: bool = True) -> dict:
    """The plain loop, gimzoo (eager) and gimzoo with ``--model.compile true``, interleaved ``repeats`` times.
    ``compile_seconds``: the compiled side's warm-up time less the eager side's (median over repeats; each repeat
    builds a new model, and torch.compile compiles it anew)."""
    L.seed_everything(0, verbose=False)
    overrides = (f"--trainer.precision={precision}",) if precision else ()
    sides = SIDES if compiled else {"gimzoo": ()}
    runs: dict[str, list[float]] = {"plain": [], **{k: [] for k in sides}}
    warm: dict[str, list[float]] = {k: [] for k in sides}
    for _ in range(repeats):  # interleaved, so drifts in machine load hit both sides alike
        runs["plain"].append(plain_throughput(config, warmup, steps, overrides, min_seconds))
        for side, extra in sides.items():
            speed, seconds = gimzoo_run(config, warmup, steps, (*overrides, *extra), min_seconds)
            runs[side].append(speed)
            warm[side].append(seconds)
    med = {k: statistics.median(v) for k, v in runs.items()}
    result = {
        "config": config, "steps": steps, "min_seconds": min_seconds, "warmup": warmup, "repeats": repeats,
        "precision": str(build(config, *QUIET, *overrides).trainer.precision),
        "plain_samples_per_s": med["plain"], "gimzoo_samples_per_s": med["gimzoo"],
        "ratio": med["gimzoo"] / med["plain"], "data_pipeline_samples_per_s": data_throughput(config),
        "peak_memory_mb": peak_memory_mb(), "all_runs": runs, "warmup_seconds": warm, "torch": torch.__version__,
        "lightning": L.__version__, "threads": torch.get_num_threads(), "machine": f"{cpu_name()}, {os.cpu_count()} cores",
    }
    if compiled:
        result |= {"compiled_samples_per_s": med["compiled"], "compiled_ratio": med["compiled"] / med["plain"],
                   "compile_seconds": statistics.median(c - e for c, e in zip(warm["compiled"], warm["gimzoo"]))}
    return result


def bench_variants(config: str, variants: dict[str, tuple[str, ...]], warmup: int, steps: int, repeats: int,
                   min_seconds: float = 0.0) -> dict:
    """gimzoo's samples/s with each variant's overrides of the config (precisions, a datamodule: the IDX files
    against the same images as a PNG folder), interleaved ``repeats`` times in one process: ratios are only
    meaningful side by side, on one machine."""
    runs: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for label, overrides in variants.items():
            runs[label].append(gimzoo_throughput(config, warmup, steps, overrides, min_seconds))
    med = {k: statistics.median(v) for k, v in runs.items()}
    first = next(iter(variants))
    return {"config": config, "variants": {k: list(v) for k, v in variants.items()}, "samples_per_s": med,
            "ratio_to_first": {k: med[k] / med[first] for k in med}, "all_runs": runs,
            "machine": f"{cpu_name()}, {os.cpu_count()} cores", "threads": torch.get_num_threads()}


def bench_all(warmup: int, steps: int, repeats: int, min_seconds: float, precision: str | None = None,
              config_dir: str = "zoo_configs") -> list[dict]:
    """Every registered model's MNIST config, each in a fresh process (so peak memory is its own)."""
    import subprocess
    import sys
    import tempfile

    from .registry import list_models

    results = []
    print("| model | plain loop (samples/s) | gimzoo eager (samples/s) | ratio | gimzoo compiled (samples/s) | ratio | "
          "compile (s) | peak memory (MB) | data pipeline (samples/s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in list_models():
        config = os.path.join(config_dir, f"{name}-mnist.yaml")
        if not os.path.exists(config):
            continue
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            subprocess.run([sys.executable, "-m", "gimzoo.bench", "--config", config, "--warmup", str(warmup),
                            "--steps", str(steps), "--min_seconds", str(min_seconds), "--repeats", str(repeats), "--json",
                            f.name, "--quiet"] + (["--precision", precision] if precision else []), check=True)
            r = json.load(open(f.name))
        results.append(r)
        print(f"| `{name}` | {r['plain_samples_per_s']:,.0f} | {r['gimzoo_samples_per_s']:,.0f} | {r['ratio']:.3f} | "
              f"{r['compiled_samples_per_s']:,.0f} | {r['compiled_ratio']:.3f} | {r['compile_seconds']:.1f} | "
              f"{r['peak_memory_mb']:,.0f} | {r['data_pipeline_samples_per_s']:,.0f} |", flush=True)
    if results:
        precisions = sorted({r["precision"] for r in results}, key=[r["precision"] for r in results].count)
        other = ", ".join(f"`{os.path.basename(r['config']).removesuffix('-mnist.yaml')}` {r['precision']}"
                          for r in results if r["precision"] != precisions[-1])
        print(f"({results[0]['machine']}, {results[0]['threads']} threads, precision {precisions[-1]}"
              f"{f' ({other})' if other else ''}, "
              f"torch {results[0]['torch']}, Lightning "
              f"{results[0]['lightning']}; at least {steps} steps and {min_seconds:g} s after {warmup} warm-up steps, median of "
              f"{repeats} interleaved runs)")
    return results


def main(argv: list[str] | None = None) -> dict | list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="zoo_configs/vae-mnist.yaml")
    ap.add_argument("--all", action="store_true", help="every model's MNIST config, one process each")
    ap.add_argument("--steps", type=int, default=None, help="timed steps, at least (default 1000; 200 with --all)")
    ap.add_argument("--min_seconds", type=float, default=3.0, help="timed seconds, at least (default 3)")
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=None, help="interleaved runs (default 5; 3 with --all)")
    ap.add_argument("--precision", default=None, help="the Trainer's precision for both sides, e.g. bf16-mixed "
                    "(default: the config's)")
    ap.add_argument("--precisions", nargs="+", default=None, help="instead: gimzoo at each of these precisions, side "
                    "by side (e.g. --precisions 32-true bf16-mixed), and their ratio to the first")
    ap.add_argument("--variant", nargs=2, action="append", metavar=("LABEL", "OVERRIDES"),
                    help="instead: gimzoo with these CLI overrides of the config, side by side with the other variants "
                    "(repeatable), e.g. --variant idx '' --variant png '--data=gimzoo.data.ImageFolder --data.root=d'")
    ap.add_argument("--no_compile", action="store_true", help="skip the --model.compile side")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    variants = {label: tuple(shlex.split(args)) for label, args in a.variant or []}
    variants |= {p: (f"--trainer.precision={p}",) for p in a.precisions or []}
    if variants:
        result = bench_variants(a.config, variants, a.warmup, a.steps or 1000, a.repeats or 5, a.min_seconds)
        print(f"config {a.config}: gimzoo samples/s of each variant, median of {a.repeats or 5} interleaved runs, "
              f"{result['threads']} threads, {result['machine']}")
        first = next(iter(variants))
        for label in variants:
            print(f"  {label:>12}: {result['samples_per_s'][label]:10.0f} samples/s  ratio to {first}: "
                  f"{result['ratio_to_first'][label]:.3f}")
        if a.json:
            with open(a.json, "w") as f:
                json.dump(result, f, indent=2)
        return result
    if a.all:
        results = bench_all(a.warmup, a.steps or 200, a.repeats or 3, a.min_seconds, a.precision)
        if a.json:
            with open(a.json, "w") as f:
                json.dump(results, f, indent=2)
        return results
    result = bench_config(a.config, a.warmup, a.steps or 1000, a.repeats or 5, a.min_seconds, a.precision,
                          compiled=not a.no_compile)
    if not a.quiet:
        print(f"config {a.config}: {result['steps']} steps after {a.warmup} warm-up, median of {result['repeats']}, "
              f"precision {result['precision']}, {result['threads']} threads, {result['machine']}")
        print(f"  plain PyTorch loop : {result['plain_samples_per_s']:10.0f} samples/s")
        print(f"  gimzoo (Lightning) : {result['gimzoo_samples_per_s']:10.0f} samples/s")
        print(f"  ratio gimzoo/plain : {result['ratio']:10.3f}")
        if not a.no_compile:
            print(f"  gimzoo compiled    : {result['compiled_samples_per_s']:10.0f} samples/s "
                  f"(ratio {result['compiled_ratio']:.3f}, compiling {result['compile_seconds']:.1f} s)")
        print(f"  data pipeline alone: {result['data_pipeline_samples_per_s']:10.0f} samples/s")
        print(f"  peak memory        : {result['peak_memory_mb']:10.0f} MB")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
