"""The `gimzoo` command, the zoo configs and the Makefile's guard."""
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from gimzoo.cli import CONFIG_DIR, list_configs, run
from gimzoo.data import DATASETS
from gimzoo.registry import get_model_entry, list_models

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(CONFIG_DIR.glob("*.yaml"))


def load_class(path: str):
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def registered_pair(stem: str) -> tuple[str, str]:
    """The (model, dataset) whose names make ``<model>-<dataset>`` == stem (names are looked up, not parsed)."""
    pairs = [(m, d) for m in list_models() for d in DATASETS if f"{m}-{d}" == stem]
    assert len(pairs) == 1, f"{stem}.yaml must be named <registered model>-<dataset>"
    return pairs[0]


def test_there_are_configs():
    assert {"vae-mnist", "beta-vae-mnist"} <= set(list_configs())


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda p: p.stem)
def test_config_matches_its_registration(cfg):
    model_name, data_name = registered_pair(cfg.stem)
    spec = yaml.safe_load(cfg.read_text())
    entry = get_model_entry(model_name)
    assert load_class(spec["model"]["class_path"]) is entry.cls
    init = spec["model"].get("init_args", {})
    for k, v in entry.defaults.items():  # the recipe keeps the registration's defining values
        assert init.get(k, v) == v, f"{cfg.name}: {k}={init.get(k)} but {model_name} registers {k}={v}"
    assert load_class(spec["data"]["class_path"]) is DATASETS[data_name]
    assert "data_shape" not in init, "data_shape comes from the datamodule, never typed twice"


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda p: p.stem)
def test_fit_fast_dev_run_on_random_data(cfg, in_tmp):
    spec = yaml.safe_load(cfg.read_text())
    shape = list(load_class(spec["data"]["class_path"]).data_shape)
    cli = run(["fit", "--config", str(cfg), "--data=gimzoo.data.RandomImages", f"--data.data_shape={shape}",
               "--data.batch_size=8", "--trainer.fast_dev_run=2", "--trainer.enable_progress_bar=false",
               "--trainer.enable_model_summary=false"])
    assert cli.trainer.state.finished and cli.model.data_shape == tuple(shape)
    assert all(cli.trainer.callback_metrics[k].isfinite() for k in cli.trainer.callback_metrics)


def test_overrides_and_print_config(in_tmp, capsys):
    cfg = str(CONFIG_DIR / "vae-mnist.yaml")
    with pytest.raises(SystemExit) as e:
        run(["fit", "--config", cfg, "--model.lr", "1e-4", "--trainer.precision", "bf16-mixed",
             "--data.batch_size", "256", "--print_config"])
    assert e.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["init_args"]["lr"] == 1e-4
    assert printed["trainer"]["precision"] == "bf16-mixed"
    assert printed["data"]["init_args"]["batch_size"] == 256
    assert printed["trainer"]["logger"]["class_path"].endswith("WandbLogger")  # default logging, offline


def test_fit_writes_grids_and_checkpoint_with_default_logger(in_tmp):
    cli = run(["fit", "--config", str(CONFIG_DIR / "vae-mnist.yaml"), "--data=gimzoo.data.RandomImages",
               "--data.batch_size=16", "--trainer.max_epochs=2", "--trainer.enable_progress_bar=false"])
    run_dir = Path(cli.trainer.checkpoint_callback.dirpath).parent
    grids = sorted(p.name for p in (run_dir / "grids").glob("*.png"))
    assert grids == ["codes_epoch000.png", "codes_epoch001.png", "recon_epoch000.png", "recon_epoch001.png",
                     "samples_epoch000.png", "samples_epoch001.png"]
    assert list((run_dir / "checkpoints").glob("*.ckpt"))
    logged = cli.trainer.logged_metrics
    assert {"train/nll", "train/kl", "val/nll", "val/neg_elbo"} <= set(logged)
    assert 0 < logged["time/epoch_s"] < 60


def test_bf16_mixed_precision_fits(in_tmp):
    cli = run(["fit", "--config", str(CONFIG_DIR / "vae-mnist.yaml"), "--data=gimzoo.data.RandomImages",
               "--trainer.fast_dev_run=2", "--trainer.precision=bf16-mixed", "--trainer.enable_progress_bar=false"])
    assert cli.trainer.state.finished and cli.trainer.callback_metrics["train/loss"].isfinite()


def test_gimzoo_list(capsys):
    run(["list"])
    out = capsys.readouterr().out
    assert "beta-vae (VAE)" in out and "fashion-mnist" in out and "vae-mnist" in out


def test_console_script_exits_zero():
    out = subprocess.run([sys.executable, "-m", "gimzoo.cli", "list"], capture_output=True, text=True)
    assert out.returncode == 0 and "vae-mnist" in out.stdout and out.stderr == ""


def test_make_train_rejects_unknown_model_and_lists_the_known():
    out = subprocess.run(["make", "-s", "train", "MODEL=nope"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode != 0
    assert "available models:" in out.stderr and "beta-vae" in out.stderr and "vae" in out.stderr
    out = subprocess.run(["make", "-s", "train", "MODEL=vae", "DATA=svhn"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode != 0 and "available datasets:" in out.stderr and "mnist" in out.stderr


def test_makefile_knows_every_dataset():
    text = (ROOT / "Makefile").read_text()
    listed = set(text.split("-(", 1)[1].split(")", 1)[0].split("|"))
    assert listed == set(DATASETS) - {"random"}


def test_validate_and_test_from_a_checkpoint(in_tmp):
    common = ["--config", str(CONFIG_DIR / "vae-mnist.yaml"), "--data=gimzoo.data.RandomImages",
              "--data.batch_size=16", "--trainer.enable_progress_bar=false", "--trainer.logger=false"]
    fit = run(["fit", *common, "--trainer.max_epochs=1"])
    ckpt = fit.trainer.checkpoint_callback.best_model_path
    assert Path(ckpt).is_file()
    for cmd in ("validate", "test"):
        cli = run([cmd, *common, f"--ckpt_path={ckpt}"])
        stage = "val" if cmd == "validate" else "test"
        m = cli.trainer.callback_metrics
        assert m[f"{stage}/neg_elbo"] == pytest.approx(float(m[f"{stage}/nll"] + m[f"{stage}/kl"]), rel=1e-5)


def test_ddp_on_two_cpu_processes_shards_the_data(in_tmp):
    """`--trainer.devices 2 --trainer.strategy ddp` through gloo: 224 images, 2 ranks, batch 16 -> 7 steps."""
    out = subprocess.run(
        [str(Path(sys.executable).with_name("gimzoo")), "fit", "--config", str(CONFIG_DIR / "vae-mnist.yaml"),
         "--data=gimzoo.data.RandomImages", "--data.batch_size=16", "--trainer.max_epochs=1", "--trainer.devices=2",
         "--trainer.strategy=ddp", "--trainer.accelerator=cpu", "--trainer.logger=false",
         "--trainer.enable_progress_bar=false"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert sorted(p.name for p in (in_tmp / "checkpoints").glob("*.ckpt")) == ["epoch=0-step=7.ckpt", "last.ckpt"]


def test_checkpoints_are_written_atomically(in_tmp, monkeypatch):
    from lightning.pytorch.plugins.io import TorchCheckpointIO

    from gimzoo.callbacks import AtomicCheckpointIO

    cli = run(["fit", "--config", str(CONFIG_DIR / "vae-mnist.yaml"), "--data=gimzoo.data.RandomImages",
               "--data.batch_size=16", "--trainer.max_epochs=1", "--trainer.enable_progress_bar=false",
               "--trainer.logger=false"])
    assert isinstance(cli.trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    path = Path(cli.trainer.checkpoint_callback.best_model_path)
    good = path.read_bytes()

    def killed_mid_write(self, checkpoint, target, storage_options=None):  # the writer dies half-way through
        Path(target).write_bytes(good[: len(good) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(TorchCheckpointIO, "save_checkpoint", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        cli.trainer.save_checkpoint(path)
    assert path.read_bytes() == good and sorted(path.parent.iterdir()) == sorted([path, path.parent / "last.ckpt"])


@pytest.mark.parametrize("name", ["vae-mnist", "aim-mnist", "mpcc-mnist", "bigan-grid25"])
def test_bench_times_gimzoo_and_the_plain_loop_on_the_same_step(name, in_tmp):
    """Every kind of config can be timed, a learning-rate schedule (bigan-grid25's lr_decay) included."""
    from gimzoo.bench import gimzoo_throughput, plain_throughput

    cfg = str(CONFIG_DIR / f"{name}.yaml")
    small = ("--data=gimzoo.data.RandomImages",) if name.endswith("mnist") else ()
    small += ("--data.batch_size=16", "--model.hidden=[16, 16]" if name != "vae-mnist" else "--model.hidden=[16]")
    if name != "vae-mnist":
        small += ("--model.critic_hidden=[16, 16]", "--model.arch=mlp")
    assert plain_throughput(cfg, 2, 4, small) > 0 and gimzoo_throughput(cfg, 2, 4, small) > 0


def test_bench_plain_loop_runs_at_the_trainers_precision(in_tmp):
    """--precision bf16-mixed: the plain loop autocasts as Lightning's plugin does; an unknown precision is refused."""
    from gimzoo.bench import Mixed, bench_config

    cpu, layer, x = torch.device("cpu"), torch.nn.Linear(3, 3), torch.randn(2, 3)
    with Mixed("bf16-mixed", cpu).autocast():
        assert layer(x).dtype == torch.bfloat16
    with Mixed("32-true", cpu).autocast():
        assert layer(x).dtype == torch.float32
    with pytest.raises(ValueError, match="32-true, bf16-mixed or 16-mixed"):
        Mixed("64-true", cpu)
    small = str(CONFIG_DIR / "bigan-grid25.yaml")
    result = bench_config(small, warmup=1, steps=3, repeats=1, precision="bf16-mixed")
    assert result["precision"] == "bf16-mixed" and result["plain_samples_per_s"] > 0 < result["gimzoo_samples_per_s"]


def _ddp_report(out: Path) -> dict:
    import json

    report = json.loads((out / "report.json").read_text())
    assert report["world_size"] == 2
    assert report["created"][0] != report["created"][1], "ranks were built from different seeds"
    assert report["start"][0] == report["start"][1] and report["end"][0] == report["end"][1], "weights differ"
    assert report["per_rank"][0] == report["per_rank"][1] > 0 and report["overlap"] == 0, "shards overlap"
    assert report["val_on_ranks"][0] == report["val_on_ranks"][1], "validation metrics are not reduced"
    assert len(list((out / "checkpoints").glob("*.ckpt"))) == 1, "one checkpoint, written once"
    return report


WORKER = Path(__file__).parent / "helpers" / "ddp_worker.py"


@pytest.mark.parametrize("name", list_models())
def test_every_model_trains_on_two_cpu_processes(name, tmp_path):
    """DDP through gloo: ranks start from rank 0's weights, see disjoint shards, agree on validation metrics and
    write one checkpoint. Two-player models need the strategy that allows a player's unused parameters."""
    strategy = get_model_entry(name).cls.ddp_strategy
    out = subprocess.run([sys.executable, str(WORKER), name, str(tmp_path), strategy], capture_output=True, text=True,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    _ddp_report(tmp_path)


def test_two_nodes_on_one_machine(tmp_path):
    """Two 'nodes' of one process each, rendezvous on 127.0.0.1 (as in the README)."""
    import os
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [subprocess.Popen([sys.executable, str(WORKER), "vae", str(tmp_path), "ddp", "2"], cwd=tmp_path,
                              env={**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "NODE_RANK": str(r)},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in (0, 1)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errs[0][-2000:] + errs[1][-2000:]
    _ddp_report(tmp_path)


def test_a_run_killed_mid_epoch_resumes_exactly(tmp_path):
    """SIGKILL in the middle of an epoch, then `ckpt_path="last"`: the resumed run ends with the same weights, bit
    for bit, as one that was never interrupted (weights, both players' Adam states, the critic/model alternation,
    the data order and the random streams all restored)."""
    import signal

    import torch

    worker = Path(__file__).parent / "helpers" / "resume_worker.py"

    def go(out, *args):
        return subprocess.run([sys.executable, str(worker), str(out), "30", *args], capture_output=True, text=True,
                              timeout=300, cwd=tmp_path)

    assert go(tmp_path / "straight").returncode == 0
    killed = go(tmp_path / "killed", "17")
    assert killed.returncode == -signal.SIGKILL
    last = torch.load(tmp_path / "killed" / "ckpt" / "last.ckpt", map_location="cpu", weights_only=False)
    assert 0 < last["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]["completed"] < 12  # mid-epoch
    resumed = go(tmp_path / "killed", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = torch.load(tmp_path / "straight" / "final.pt")
    b = torch.load(tmp_path / "killed" / "final.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_without_wandb_the_default_logger_is_csv(in_tmp, monkeypatch):
    import importlib.util

    import gimzoo.cli as cli_module

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    assert cli_module.default_logger()["class_path"].endswith("CSVLogger")
    cli = run(["fit", "--config", str(CONFIG_DIR / "vae-mnist.yaml"), "--data=gimzoo.data.RandomImages",
               "--data.batch_size=16", "--trainer.max_epochs=1", "--trainer.enable_progress_bar=false"])
    assert type(cli.trainer.logger).__name__ == "CSVLogger"
    metrics = Path(cli.trainer.logger.log_dir) / "metrics.csv"
    assert metrics.exists() and "val/neg_elbo" in metrics.read_text().splitlines()[0]


def test_ckpt_path_last_resumes_the_newest_run_of_the_same_config(in_tmp):
    """Every run gets a new logger folder, so `--ckpt_path last` looks for the newest last.ckpt of a run with
    the same model and data config; with none, it is an error rather than a silent fresh start."""
    common = ["--config", str(CONFIG_DIR / "vae-mnist.yaml"), "--data=gimzoo.data.RandomImages", "--data.batch_size=16",
              "--trainer.enable_progress_bar=false", "--trainer.logger=lightning.pytorch.loggers.CSVLogger",
              "--trainer.logger.save_dir=runs", "--evaluation.every_n_epochs=0"]
    with pytest.raises(FileNotFoundError, match="no run under runs/"):
        run(["fit", *common, "--trainer.max_epochs=1", "--ckpt_path=last"])
    first = run(["fit", *common, "--trainer.max_epochs=1"])
    other = run(["fit", *common, "--trainer.max_epochs=1", "--model.latent_dim=4"])  # newer, but another model
    resumed = run(["fit", *common, "--trainer.max_epochs=2", "--ckpt_path=last"])
    assert resumed.trainer.ckpt_path == str(Path(first.trainer.logger.log_dir) / "checkpoints" / "last.ckpt")
    assert resumed.trainer.global_step == 2 * first.trainer.global_step and other.trainer.global_step > 0


def test_gimzoo_baseline_fits_pca_on_the_training_split_and_evaluates_it(in_tmp, monkeypatch, capsys):
    import json

    import gimzoo.data
    from gimzoo.data import RandomImages

    asked = []

    def fake_datamodule(name, **kwargs):  # the real command reads MNIST from the data root; here, random images
        asked.append((name, kwargs))
        return RandomImages(n_train=300, n_test=60, val_size=20)

    monkeypatch.setattr(gimzoo.data, "get_datamodule", fake_datamodule)
    run(["baseline", "--data", "mnist", "--components", "4", "--n", "60", "--json", "pca.json"])
    out = json.loads(Path("pca.json").read_text())
    assert asked == [("mnist", {"download": False})] and out["name"] == "pca4-mnist"
    assert out["protocol"]["n"] == 60 and 0 < out["metrics"]["recon_mse"] < 1 and "recon_mse" in capsys.readouterr().out
