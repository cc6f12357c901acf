"""``gimzoo benchmark SUITE``: every model on equal terms, several seeds, both desired properties.

A suite file (``benchmarks/<suite>.yaml``) fixes what the published recipes do not share: one network preset for
every body (encoder, decoder or generator, critic), one latent size, one batch size, one budget (the same number
of epochs, so the same training samples, for every model: a two-player model's critic and model steps share each
batch), the dataset, the precision and the seeds. Each model keeps its own
objective, loss weights and optimiser settings, read from its recipe ``zoo_configs/<model>-<dataset>.yaml``.
Models with a discrete code (InfoGAN, MPCC) get ``categories`` categories, and InfoGAN's noise is the latent size
less its codes.

Every (model, seed) is a run under ``runs/benchmark/<suite>/<model>/seed<seed>/``: ``gimzoo fit`` in a child process
with one thread, then the full ``gimzoo eval`` of its last checkpoint on the test split. Runs already in the CSV
are skipped; a run killed during training resumes from its newest checkpoint (written every
``checkpoint_every`` steps). Each finished run appends a row to ``results/<suite>.csv`` (every metric, the
protocol, the wall times, the machine and the git commit of the code); ``results/<suite>.md`` and
``results/<suite>.png`` are then drawn again from the whole CSV.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import inspect
import io
import json
import math
import os
import platform
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .models.base import FAMILIES
from .registry import get_model_entry, list_models


def _config_dir() -> Path:
    from .cli import CONFIG_DIR

    return CONFIG_DIR

#: the suite keys, and what each fixes
SUITE_KEYS = {
    "dataset": "the zoo dataset; each model's recipe is zoo_configs/<model>-<dataset>.yaml",
    "models": "registered model names",
    "seeds": "the seeds every model is trained with",
    "preset": "network arguments given to every model that takes them (arch, hidden, critic_hidden, fc, ...)",
    "latent_dim": "the latent size of every model (InfoGAN: noise + categories + continuous codes)",
    "categories": "the categories of a discrete code (InfoGAN, MPCC)",
    "batch_size": "the batch size of every model",
    "epochs": "the budget: passes over the training split, so every model draws the same training samples",
    "precision": "the Trainer precision of every run",
    "checkpoint_every": "training steps between the checkpoints a killed run resumes from",
    "eval_n": "test images (and samples) of the evaluation",
}
#: the headline metrics of results/<suite>.md, in this order
TABLE_METRICS = ("fid_lenet", "mmd_qz_pz", "linear_probe_accuracy", "knn1_accuracy", "cluster_hungarian_accuracy",
                 "recon_mse", "iwae_nll")
#: the table's column heads (lower or higher is better)
SHORT = {"fid_lenet": "fid_lenet ↓", "mmd_qz_pz": "mmd_qz_pz ↓", "linear_probe_accuracy": "linear probe ↑",
         "knn1_accuracy": "1-NN ↑", "cluster_hungarian_accuracy": "clusters ↑", "recon_mse": "recon_mse ↓",
         "iwae_nll": "iwae_nll ↓"}
RUN_COLUMNS = ("suite", "model", "family", "seed", "fit_s", "eval_s", "epochs", "batch_size", "precision", "machine",
               "commit", "protocol")


@dataclass
class Suite:
    name: str
    dataset: str
    models: list[str]
    seeds: list[int]
    preset: dict[str, Any]
    latent_dim: int
    categories: int
    batch_size: int
    epochs: int
    precision: str = "32-true"
    checkpoint_every: int = 250
    eval_n: int = 10_000
    configs: Path = field(default_factory=lambda: _config_dir())

    def recipe(self, model: str) -> dict:
        path = self.configs / f"{model}-{self.dataset}.yaml"
        if not path.is_file():
            raise FileNotFoundError(f"suite {self.name}: no recipe {path} for model {model!r}")
        return yaml.safe_load(path.read_text())

    def config(self, model: str, seed: int, root: Path) -> dict:
        """The ``gimzoo fit`` config of one run: the model's recipe with the suite's networks, sizes and budget."""
        recipe = self.recipe(model)
        cls = get_model_entry(model).cls
        params = inspect.signature(cls.__init__).parameters
        args = dict(recipe["model"].get("init_args") or {})
        args |= {k: v for k, v in self.preset.items() if k in params}
        if "encoder_hidden" in params:
            args["encoder_hidden"] = None  # the encoder body is the preset's too
        for key in ("n_categories", "n_clusters"):
            if key in params:
                args[key] = self.categories
        if "noise_dim" in params:  # InfoGAN: the latent is noise + categorical + continuous codes
            continuous = args.get("n_continuous", params["n_continuous"].default)
            args["noise_dim"] = self.latent_dim - self.categories - continuous
            if args["noise_dim"] < 1:
                raise ValueError(f"suite {self.name}: latent_dim {self.latent_dim} leaves no noise for InfoGAN's "
                                 f"{self.categories} categories and {continuous} continuous codes")
        else:
            args["latent_dim"] = self.latent_dim
        data = dict(recipe["data"])
        data["init_args"] = {**(data.get("init_args") or {}), "batch_size": self.batch_size}
        checkpoint = {"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                      "init_args": {"every_n_train_steps": self.checkpoint_every, "save_last": True}}
        logger = {"class_path": "lightning.pytorch.loggers.CSVLogger",
                  "init_args": {"save_dir": str(root), "name": "fit", "version": "run"}}
        return {"seed_everything": seed, "model": {"class_path": recipe["model"]["class_path"], "init_args": args},
                "data": data,
                "trainer": {"max_epochs": self.epochs, "precision": self.precision,
                            "limit_val_batches": 0, "num_sanity_val_steps": 0, "enable_progress_bar": False,
                            "enable_model_summary": False, "logger": logger,
                            "callbacks": [checkpoint], "default_root_dir": str(root)},
                "evaluation": {"every_n_epochs": 0}}


def load_suite(path: str | os.PathLike) -> Suite:
    """A suite from its YAML file; unknown keys or models raise with what is expected."""
    path = Path(path)
    if not path.is_file():
        folder = _config_dir().parent / "benchmarks"
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        candidate = folder / f"{path}.yaml"
        if candidate.is_file():
            path = candidate
        else:
            raise FileNotFoundError(f"no suite {path}; known suites in benchmarks/: {', '.join(known) or '(none)'}")
    raw = yaml.safe_load(path.read_text()) or {}
    unknown = sorted(set(raw) - set(SUITE_KEYS))
    missing = sorted({"dataset", "models", "seeds", "preset", "latent_dim", "categories", "batch_size", "epochs"}
                     - set(raw))
    if unknown or missing:
        raise ValueError(f"suite {path}: unknown keys {unknown}, missing keys {missing}; a suite has: "
                         + "; ".join(f"{k}: {v}" for k, v in SUITE_KEYS.items()))
    for model in raw["models"]:
        get_model_entry(model)  # an unknown name raises with the known ones
    return Suite(name=path.stem, **raw)


# -- one run ----------------------------------------------------------------------------------------------------
def _one_thread_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "WANDB_MODE": "offline"}


_LIVE: set[subprocess.Popen] = set()  # the child processes running now, stopped together on Ctrl-C


def _child(args: list[str], log: Path) -> None:
    """Run ``python -m gimzoo.cli ARGS`` with one thread, its output appended to ``log``; raise if it fails."""
    with log.open("a") as out:
        proc = subprocess.Popen([sys.executable, "-m", "gimzoo.cli", *args], stdout=out, stderr=subprocess.STDOUT,
                                env=_one_thread_env())
        _LIVE.add(proc)
        try:
            code = proc.wait()
        finally:
            _LIVE.discard(proc)
    if code:
        raise RuntimeError(f"`gimzoo {' '.join(args[:1])}` failed (exit {code}); see {log}")


def _stop_children() -> None:
    """Ctrl-C: pass the interrupt to every running child (a terminal sends it to them too; a background run or a
    scheduler may not), so each saves nothing half-written and exits."""
    for proc in list(_LIVE):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)


def _timed(seconds_file: Path, key: str, fn, log: Path) -> float:
    """Call ``fn`` and add its wall time to ``key`` of ``seconds_file``: a resumed run's time is the sum of its
    attempts. An attempt is recorded as open when it starts; one that was killed before it could close (SIGKILL, a
    crash) is closed at the next start with the last write to its ``log``."""
    times = json.loads(seconds_file.read_text()) if seconds_file.is_file() else {}
    opened = times.setdefault("open", {})
    if key in opened:  # a killed attempt: it ran until its log was last written
        times[key] = round(times.get(key, 0.0) + max(0.0, log.stat().st_mtime - opened[key]), 1)
    opened[key] = time.time()
    _write_atomic(seconds_file, json.dumps(times) + "\n")
    t0 = time.perf_counter()
    try:
        fn()
    finally:
        times[key] = round(times.get(key, 0.0) + time.perf_counter() - t0, 1)
        del opened[key]
        _write_atomic(seconds_file, json.dumps(times) + "\n")
    return times[key]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def run_one(suite: Suite, model: str, seed: int, runs: Path, code: str | None = None) -> dict:
    """Train (or resume) and evaluate one (model, seed); returns its CSV row. ``code``: the commit of the code the
    runs use (default: :func:`commit` now)."""
    root = runs / suite.name / model / f"seed{seed}"
    root.mkdir(parents=True, exist_ok=True)
    config, log, seconds = root / "benchmark-config.yaml", root / "benchmark.log", root / "seconds.json"
    _write_atomic(config, yaml.safe_dump(suite.config(model, seed, root), sort_keys=False))
    run = root / "fit" / "run"
    last, done = run / "checkpoints" / "last.ckpt", root / "fit.done"
    if not done.is_file():
        resume = ["--ckpt_path", str(last)] if last.is_file() else []
        _timed(seconds, "fit_s", lambda: _child(["fit", "--config", str(config), *resume], log), log)
        done.write_text("")
    result_file = root / "eval.json"
    if not result_file.is_file():
        _timed(seconds, "eval_s", lambda: _child(["eval", str(last), "--n", str(suite.eval_n), "--json",
                                                  str(result_file)], log), log)
    result, times = json.loads(result_file.read_text()), json.loads(seconds.read_text())
    return {"suite": suite.name, "model": model, "family": get_model_entry(model).cls.family, "seed": seed,
            "fit_s": times["fit_s"], "eval_s": times["eval_s"], "epochs": suite.epochs,
            "batch_size": suite.batch_size, "precision": suite.precision, "machine": machine(),
            "commit": code or commit(), "protocol": json.dumps(result["protocol"], sort_keys=True),
            **{k: ("" if v is None else v) for k, v in result["metrics"].items()}}


def machine() -> str:
    """The CPU model, its core count and whether it has bfloat16 units, since absolute times differ by machine (two
    CPUs of one model name can differ in the last)."""
    from .trainer import cpu_has_bf16

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu} ({os.cpu_count()} cores, {'with' if cpu_has_bf16() else 'no'} bf16 units)"


def commit() -> str:
    """The git commit of the code (``-dirty`` with uncommitted changes), or the package version outside git."""
    try:
        repo = Path(__file__).resolve().parents[2]
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=repo, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, check=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        from importlib.metadata import version

        return f"gimzoo {version('gimzoo')}"


# -- the results files --------------------------------------------------------------------------------------------
def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def append_row(path: Path, row: dict) -> None:
    """Add ``row`` to the CSV (a row of the same model and seed is replaced); the file is rewritten whole and
    atomically under a lock, with the union of the columns, so no row is lost to a crash or a second job."""
    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path.with_name(f".{path.name}.lock"))):
        rows = [r for r in read_rows(path) if (r["model"], str(r["seed"])) != (row["model"], str(row["seed"]))]
        rows.append({k: str(v) for k, v in row.items()})
        columns = list(RUN_COLUMNS)
        for r in rows:
            columns += [k for k in r if k not in columns]
        out = io.StringIO()
        writer = csv.DictWriter(out, columns, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: (r["model"], int(r["seed"]))))
        _write_atomic(path, out.getvalue())


def _float(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def summary(rows: list[dict], order: list[str] | None = None) -> dict[str, dict]:
    """model -> {"family", "seeds", metric -> (mean, std, n)} over the model's seeds (std: sample, ddof 1)."""
    out: dict[str, dict] = {}
    models = order or sorted({r["model"] for r in rows})
    for model in models:
        mine = [r for r in rows if r["model"] == model]
        if not mine:
            continue
        entry: dict[str, Any] = {"family": mine[0]["family"], "seeds": len(mine)}
        for metric in (*TABLE_METRICS, "fit_s"):
            values = [v for v in (_float(r.get(metric)) for r in mine) if v is not None and math.isfinite(v)]
            if values:
                mean = sum(values) / len(values)
                std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
                entry[metric] = (mean, std, len(values))
        out[model] = entry
    return out


def markdown(suite: Suite, rows: list[dict], figure: str | None) -> str:
    stats = summary(rows, suite.models)
    head = ["model", "family", "seeds", *(SHORT[m] for m in TABLE_METRICS), "fit min"]
    lines = [f"# {suite.name}", "",
             f"Every model with the preset {json.dumps(suite.preset)}, latent size {suite.latent_dim}, batch "
             f"{suite.batch_size}, {suite.epochs} epochs of the training split (the same training samples for every "
             f"model), precision {suite.precision}, on {suite.dataset}; mean ± std over seeds, the test split, "
             f"`gimzoo eval` with n = {suite.eval_n}. Linear probe and 1-NN: `linear_probe_accuracy` and "
             f"`knn1_accuracy` on the codes; clusters: `cluster_hungarian_accuracy`. Written by "
             f"`gimzoo benchmark {suite.name}` from `results/{suite.name}.csv`.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for model, e in stats.items():
        cells = [f"`{model}`", e["family"], str(e["seeds"])]
        for metric in TABLE_METRICS:
            cells.append(_pm(e.get(metric)))
        fit = e.get("fit_s")
        cells.append(_pm((fit[0] / 60, fit[1] / 60, fit[2])) if fit else "")
        lines.append("| " + " | ".join(cells) + " |")
    machines = sorted({r["machine"] for r in rows})
    total = sum(_float(r["fit_s"]) + _float(r["eval_s"]) for r in rows)
    lines += ["", f"{len(rows)} runs; total CPU wall time {total / 3600:.2f} h (fit and eval, one thread each) on "
              f"{'; '.join(machines)}; commits {', '.join(sorted({r['commit'] for r in rows}))}."]
    if figure:
        lines += ["", f"![property 1 against property 2]({figure})"]
    return "\n".join(lines) + "\n"


def _pm(stat) -> str:
    if not stat:
        return ""
    mean, std, n = stat
    digits = 3 if abs(mean) < 10 else 1
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if n > 1 else f"{mean:.{digits}f}"


MARKERS = {"(1)": "o", "(2)": "s", "joint": "^", "(4)": "D", "linear": "x"}


def _label_without_overlap(ax, points: list[tuple[float, float, str]], height: float = 13.0) -> None:
    """Write each name beside its point (on its left near the right edge), moving a label that would overlap a
    neighbour's up until they sit ``height`` pixels apart."""
    to_px, right = ax.transData.transform, ax.transAxes.transform((0.85, 0))[0]
    placed: list[tuple[float, float]] = []  # (x, y) of each written label, in display pixels
    for x, y, name in sorted(points, key=lambda p: to_px((p[0], p[1]))[1]):
        px, py = to_px((x, y))
        ly = py + 3
        for qx, qy in sorted(placed, key=lambda q: q[1]):
            if abs(px - qx) < 70 and abs(ly - qy) < height:
                ly = qy + height
        placed.append((px, ly))
        left = px > right
        ax.annotate(name, (x, y), textcoords="offset pixels", xytext=(-5 if left else 5, ly - py), fontsize=8,
                    ha="right" if left else "left")


def figure(suite: Suite, rows: list[dict], out: Path) -> Path | None:
    """Property 1 (fid_lenet; mmd_qz_pz where there is an encoder) against property 2 (the linear probe), error
    bars over seeds, one marker per family."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = summary(rows, suite.models)
    if not stats:
        return None
    panels = [("fid_lenet", "fid_lenet (p(x) vs data, lower is better)"),
              ("mmd_qz_pz", "mmd_qz_pz (q(z) vs p(z), lower is better)")]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    labels = []
    for ax, (metric, label) in zip(axes, panels):
        ax.set_yscale("log")  # the families differ by orders of magnitude
        points = []
        for model, e in stats.items():
            if metric not in e or "linear_probe_accuracy" not in e:
                continue
            (x, dx, _), (y, dy, _) = e["linear_probe_accuracy"], e[metric]
            ax.errorbar(x, y, xerr=dx, yerr=dy, fmt=MARKERS.get(e["family"], "o"), capsize=2, ms=6,
                        color=f"C{list(MARKERS).index(e['family']) if e['family'] in MARKERS else 5}")
            points.append((x, y, model))
        labels.append((ax, points))
        ax.set_xlabel("linear probe accuracy on the codes (higher is better)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], marker=m, ls="", color=f"C{i}", label=FAMILIES[f])
               for i, (f, m) in enumerate(MARKERS.items()) if any(e["family"] == f for e in stats.values())]
    fig.legend(handles=handles, loc="upper center", ncol=2, frameon=False, fontsize=9)
    fig.suptitle(f"{suite.name}: mean ± std over seeds", y=0.02, fontsize=9)
    fig.tight_layout(rect=(0, 0.03, 1, 0.9))
    for ax, points in labels:  # once the axes have their final size
        _label_without_overlap(ax, points)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, out)
    return out


def write_report(suite: Suite, results: Path) -> None:
    rows = [r for r in read_rows(results / f"{suite.name}.csv") if r["model"] in suite.models]
    png = figure(suite, rows, results / f"{suite.name}.png")
    _write_atomic(results / f"{suite.name}.md", markdown(suite, rows, png.name if png else None))


# -- the command ----------------------------------------------------------------------------------------------------
def benchmark(suite: Suite, seeds: list[int] | None = None, jobs: int = 1, runs: Path = Path("runs/benchmark"),
              results: Path = Path("results"), models: list[str] | None = None) -> list[dict]:
    """Run every missing (model, seed) of the suite, ``jobs`` at a time with one thread each; returns new rows."""
    seeds = suite.seeds if seeds is None else seeds
    models = suite.models if models is None else models
    csv_path = results / f"{suite.name}.csv"
    finished = {(r["model"], int(r["seed"])) for r in read_rows(csv_path)}
    todo = [(m, s) for s in seeds for m in models if (m, s) not in finished]
    print(f"{suite.name}: {len(finished)} runs in {csv_path}, {len(todo)} to run, {jobs} at a time", flush=True)

    code = commit()  # the children import the code as it is now; edits made while the benchmark runs show as -dirty
    failed: list[str] = []
    interrupted = False

    def one(task):
        model, seed = task
        t0 = time.perf_counter()
        try:
            row = run_one(suite, model, seed, runs, code)
        except Exception as e:  # one failed run does not stop the others; the command fails at the end
            if interrupted:  # stopped by Ctrl-C, not failed: it resumes at the next start
                return None
            failed.append(f"{model} seed {seed}: {e}")
            print(f"FAILED {model} seed {seed}: {e}", file=sys.stderr, flush=True)
            return None
        append_row(csv_path, row)
        write_report(suite, results)
        print(f"{model} seed {seed}: fit {row['fit_s']} s, eval {row['eval_s']} s ({time.perf_counter() - t0:.0f} s "
              "now); " + ", ".join(f"{k} {row[k]:.4g}" for k in TABLE_METRICS if isinstance(row.get(k), float)),
              flush=True)
        return row

    new: list[dict] = []
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        for row in pool.map(one, todo):
            if row is not None:
                new.append(row)
    except KeyboardInterrupt:
        interrupted = True
        _stop_children()
        pool.shutdown(wait=True, cancel_futures=True)
        print(f"\ninterrupted: {len(new)} new runs saved in {csv_path}; run the same command again to continue "
              "(finished runs are skipped, a run stopped in training resumes from its last checkpoint)",
              file=sys.stderr, flush=True)
        raise SystemExit(130) from None
    pool.shutdown()
    if failed:
        write_report(suite, results)
        raise RuntimeError(f"{len(failed)} of {len(todo)} runs failed (the others are saved; run again to retry "
                           "them):\n" + "\n".join(failed))
    write_report(suite, results)
    return new


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="gimzoo benchmark", description="Train and evaluate every model of a suite "
                                "(benchmarks/<suite>.yaml) on equal terms; resumable.")
    p.add_argument("suite", help="a suite file, or the name of one in benchmarks/ (e.g. mnist-equal)")
    p.add_argument("--seeds", type=int, nargs="+", help="the seeds to run (default: the suite's)")
    p.add_argument("--models", nargs="+", help="only these models of the suite")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time, one thread each (default 1)")
    p.add_argument("--runs", default="runs/benchmark", help="where runs are written (default runs/benchmark)")
    p.add_argument("--results", default="results", help="where <suite>.csv/.md/.png go (default results/)")
    p.add_argument("--report", action="store_true", help="only redraw <suite>.md and .png from the CSV")
    a = p.parse_args(argv)
    # a shell starts background jobs with SIGINT ignored, and children inherit that; a handler (reset to the default
    # in each child) lets `kill -INT` stop a background benchmark as Ctrl-C stops one in a terminal
    signal.signal(signal.SIGINT, signal.default_int_handler)
    suite = load_suite(a.suite)
    if a.report:
        write_report(suite, Path(a.results))
        return
    if a.models:
        unknown = sorted(set(a.models) - set(suite.models))
        if unknown:
            p.error(f"models {unknown} are not in suite {suite.name} ({', '.join(suite.models)})")
    if a.jobs < 1:
        p.error("--jobs must be at least 1")
    benchmark(suite, a.seeds, a.jobs, Path(a.runs), Path(a.results), a.models)


__all__ = ["Suite", "load_suite", "benchmark", "run_one", "summary", "markdown", "figure", "list_models"]
