"""The `gimzoo` command, the zoo configs and the Makefile's guard."""
import importlib
import re
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
    """The (model, dataset) whose names make ``<model>-<dataset>`` == stem, or ``<model>-<dataset>-<variant>`` for
    another recipe of the pair such as ``mpcc-mnist-short`` (names are looked up, not parsed)."""
    pairs = [(m, d) for m in list_models() for d in DATASETS
             if re.fullmatch(rf"{re.escape(m)}-{re.escape(d)}(-[a-z0-9]+)?", stem)]
    assert len(pairs) == 1, f"{stem}.yaml must be named <registered model>-<dataset>[-<variant>]"
    return pairs[0]


def test_config_names_allow_a_variant_and_nothing_else():
    assert registered_pair("mpcc-mnist-short") == registered_pair("mpcc-mnist") == ("mpcc", "mnist")
    assert registered_pair("wae-gan-mnist") == ("wae-gan", "mnist")
    for bad in ("mpcc-svhn", "mpcc-mnist-", "mpcc-mnist-Short", "nope-mnist"):
        with pytest.raises(AssertionError):
            registered_pair(bad)


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
    models = next(line for line in out.stderr.splitlines() if line.startswith("available models:"))
    assert set(models.split(":")[1].split()) == set(list_models())  # a variant recipe (mpcc-mnist-short) is no model
    out = subprocess.run(["make", "-s", "train", "MODEL=vae", "DATA=svhn"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode != 0 and "available datasets:" in out.stderr and "mnist" in out.stderr


def test_makefile_knows_every_dataset():
    text = (ROOT / "Makefile").read_text()
    listed = set(text.split("-(", 1)[1].split(")", 1)[0].split("|"))
    assert listed == set(DATASETS) - {"random", "folder"}  # an image folder is the user's: --data.root, no config


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
    assert sorted(p.name for p in (in_tmp / "runs" / "checkpoints").glob("*.ckpt")) == ["epoch=0-step=7.ckpt", "last.ckpt"]


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


@pytest.fixture(scope="module")
def every_model_on_two_processes(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One pair of gloo processes trains every registered model in turn, each with its own DDP strategy."""
    out = tmp_path_factory.mktemp("ddp")
    done = subprocess.run([sys.executable, str(WORKER), ",".join(list_models()), str(out), "auto"], capture_output=True,
                          text=True, timeout=900, cwd=out)
    return out, done


@pytest.mark.parametrize("name", list_models())
def test_every_model_trains_on_two_cpu_processes(name, every_model_on_two_processes):
    """DDP through gloo: ranks start from rank 0's weights, see disjoint shards, agree on validation metrics and
    write one checkpoint. Two-player models need the strategy that allows a player's unused parameters."""
    out, done = every_model_on_two_processes
    assert (out / name / "report.json").is_file(), done.stderr[-3000:]
    _ddp_report(out / name)


def test_the_processes_that_trained_every_model_leave_cleanly(every_model_on_two_processes):
    out, done = every_model_on_two_processes
    assert done.returncode == 0, done.stderr[-3000:]


def test_compiled_two_player_model_trains_on_two_cpu_processes(tmp_path):
    """--model.compile with DDP: the ranks end with the same weights (the gradients were all-reduced through the
    compiled terms) and write one checkpoint."""
    import os

    out = subprocess.run([sys.executable, str(WORKER), "bigan", str(tmp_path), "ddp_find_unused_parameters_true"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**os.environ, "COMPILE": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    _ddp_report(tmp_path / "bigan")


def test_several_devices_train_with_no_strategy_flag(in_tmp):
    """`--trainer.devices 2` alone: the CLI picks the model's own DDP strategy (a two-player model needs DDP's
    unused-parameter search), MPCC's load check after the epoch gathers its codes across the ranks, and the run
    writes its checkpoints under runs/."""
    out = subprocess.run(
        [str(Path(sys.executable).with_name("gimzoo")), "fit", "--config", str(CONFIG_DIR / "mpcc-mnist.yaml"),
         "--data=gimzoo.data.RandomImages", "--data.batch_size=16", "--model.hidden=[16]", "--model.critic_hidden=[16]",
         "--model.arch=mlp", "--model.critic_steps=1", "--model.restart_from=1", "--trainer.max_epochs=1",
         "--trainer.devices=2",
         "--trainer.accelerator=cpu", "--trainer.logger=false", "--trainer.enable_progress_bar=false"],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "MEMBER: 2/2" in out.stderr and (in_tmp / "runs" / "checkpoints" / "last.ckpt").is_file()


def test_the_strategy_follows_the_process_count_and_an_explicit_one_wins(in_tmp):
    from lightning.pytorch.strategies import DDPStrategy, SingleDeviceStrategy

    from gimzoo.cli import build

    def strategy(config: str, *flags: str):
        return build(CONFIG_DIR / config, "--data=gimzoo.data.RandomImages", "--trainer.accelerator=cpu",
                     "--trainer.logger=false", *flags).trainer.strategy

    assert isinstance(strategy("bigan-mnist.yaml"), SingleDeviceStrategy)
    two = strategy("bigan-mnist.yaml", "--trainer.devices=2")
    assert isinstance(two, DDPStrategy) and two._ddp_kwargs.get("find_unused_parameters") is True
    nodes = strategy("ali-mnist.yaml", "--trainer.num_nodes=2")
    assert isinstance(nodes, DDPStrategy) and nodes._ddp_kwargs.get("find_unused_parameters") is True
    plain = strategy("vae-mnist.yaml", "--trainer.devices=2")  # single-optimizer models keep plain DDP
    assert isinstance(plain, DDPStrategy) and not plain._ddp_kwargs.get("find_unused_parameters")
    given = strategy("bigan-mnist.yaml", "--trainer.devices=2", "--trainer.strategy=ddp")
    assert isinstance(given, DDPStrategy) and not given._ddp_kwargs.get("find_unused_parameters")


def test_runs_write_under_runs_only(in_tmp):
    """fast_dev_run (the DummyLogger), a run without a logger and one with the default logger leave nothing but
    runs/ in the working directory; --trainer.default_root_dir moves all of it, the default logger's files too."""
    common = ["fit", "--config", str(CONFIG_DIR / "vae-mnist.yaml"), "--data=gimzoo.data.RandomImages",
              "--data.batch_size=16", "--model.hidden=[16]", "--trainer.enable_progress_bar=false"]
    run([*common, "--trainer.fast_dev_run=true"])
    assert sorted(p.name for p in in_tmp.iterdir()) == ["runs"]
    assert not (in_tmp / "runs" / "checkpoints").exists()  # fast_dev_run writes no checkpoint, as Lightning says
    assert sorted(p.name for p in (in_tmp / "runs" / "grids").iterdir())
    run([*common, "--trainer.max_epochs=1", "--trainer.logger=false"])
    run([*common, "--trainer.max_epochs=1"])
    assert sorted(p.name for p in in_tmp.iterdir()) == ["runs"]
    assert (in_tmp / "runs" / "checkpoints" / "last.ckpt").is_file() and (in_tmp / "runs" / "config.yaml").is_file()
    elsewhere = in_tmp / "runs" / "elsewhere"
    import wandb

    wandb.finish()  # one wandb run per process: the CLI's next logger would join the open one
    cli = run([*common, "--trainer.max_epochs=1", f"--trainer.default_root_dir={elsewhere}"])
    assert Path(cli.trainer.logger.save_dir) == elsewhere and (elsewhere / "wandb").is_dir()
    assert list(elsewhere.glob("*/*/checkpoints/last.ckpt"))
    assert sorted(p.name for p in in_tmp.iterdir()) == ["runs"]


def test_precision_auto_follows_the_hardware(monkeypatch, tmp_path):
    from gimzoo import trainer as gt

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f\n")
    assert gt.cpu_flags(cpuinfo) == {"fpu", "sse", "avx2", "avx512f"} and not gt.cpu_has_bf16(gt.cpu_flags(cpuinfo))
    assert gt.cpu_has_bf16({"avx2", "amx_bf16"}) and gt.cpu_has_bf16({"avx512_bf16"}) and gt.cpu_has_bf16({"bf16"})
    for has_bf16, expected in ((True, "bf16-mixed"), (False, "32-true")):
        monkeypatch.setattr(gt, "cpu_has_bf16", lambda: has_bf16)
        assert gt.auto_precision("cpu") == expected
        trainer = gt.Trainer(precision="auto", accelerator="cpu", logger=False, enable_progress_bar=False)
        assert trainer.precision == expected
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for has_bf16, expected in ((True, "bf16-mixed"), (False, "16-mixed")):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: has_bf16)
        assert gt.auto_precision("gpu") == gt.auto_precision("auto") == expected
    assert gt.auto_precision("cpu") == "32-true"  # an explicit CPU run ignores the GPU
    assert gt.auto_precision("mps") == "32-true"


def test_configs_that_chose_a_reduced_precision_say_auto():
    """Configs pick bf16 for speed only through `precision: auto`, so a CPU without bf16 units runs them in fp32."""
    for cfg in CONFIGS:
        precision = (yaml.safe_load(cfg.read_text()).get("trainer") or {}).get("precision")
        assert precision in (None, "auto", "32-true"), f"{cfg.name}: precision {precision!r}; use auto"


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_compiled_terms_train_and_resume(precision, in_tmp):
    """--model.compile true: the training terms run compiled (one graph each), the state dict keeps its keys, a
    checkpoint resumes, and bf16 autocast runs inside the compiled graph."""
    common = ["fit", "--config", str(CONFIG_DIR / "aae-mnist.yaml"), "--data=gimzoo.data.RandomImages",
              "--data.batch_size=16", "--model.hidden=[8]", "--model.critic_hidden=[8]", "--model.arch=mlp",
              "--model.compile=true", f"--trainer.precision={precision}", "--trainer.logger=false",
              "--trainer.enable_progress_bar=false", "--evaluation.every_n_epochs=0"]
    first = run([*common, "--trainer.max_epochs=1"])
    model = first.model
    eager = type(model)(**{k: v for k, v in model.hparams.items() if not k.startswith("_")} | {"compile": False})
    assert model.compile_terms and set(model.state_dict()) == set(eager.state_dict())
    assert model.training_terms("model_terms").func._torchdynamo_orig_callable is type(model).model_terms
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 2  # the critic's terms and the model's
    ckpt = in_tmp / "runs" / "checkpoints" / "last.ckpt"
    resumed = run([*common, "--trainer.max_epochs=2", f"--ckpt_path={ckpt}"])
    assert resumed.trainer.current_epoch == 2 and resumed.trainer.global_step == 2 * first.trainer.global_step
    assert all(torch.isfinite(p).all() for p in resumed.model.parameters())


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
    _ddp_report(tmp_path / "vae")


@pytest.mark.parametrize("epoch_checkpoints", [False, True], ids=["mid-epoch", "end-of-epoch"])
def test_a_killed_run_resumes_exactly(tmp_path, epoch_checkpoints):
    """SIGKILL after a checkpoint, then `ckpt_path="last"`: the resumed run ends with the same weights, bit for bit,
    as one that was never interrupted (weights, both players' Adam states, the critic/model alternation, the data
    order and the random streams all restored). The checkpoint is taken in the middle of an epoch, or at the end of
    one (the way `gimzoo fit` checkpoints), from which Lightning alone would count the finished epoch twice."""
    import signal

    import torch

    worker = Path(__file__).parent / "helpers" / "resume_worker.py"

    flags = ["--epoch-checkpoints"] if epoch_checkpoints else []

    def go(out, *args):
        return subprocess.run([sys.executable, str(worker), str(out), "60" if epoch_checkpoints else "30", *args,
                               *flags], capture_output=True, text=True, timeout=300, cwd=tmp_path)

    assert go(tmp_path / "straight").returncode == 0
    killed = go(tmp_path / "killed", "50" if epoch_checkpoints else "17")
    assert killed.returncode == -signal.SIGKILL
    last = torch.load(tmp_path / "killed" / "ckpt" / "last.ckpt", map_location="cpu", weights_only=False)
    served = last["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]["completed"]
    assert served == 12 if epoch_checkpoints else 0 < served < 12  # after the last batch of an epoch, or inside one
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


def test_gpu_check_refuses_to_pretend_without_a_gpu(monkeypatch, capsys):
    """make gpu-check on a machine without CUDA says so and fails (its table comes only from a GPU machine)."""
    from gimzoo import gpucheck

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpucheck.main([]) == 2 and "no CUDA GPU" in capsys.readouterr().err


def test_a_run_resumed_in_the_middle_of_an_epoch_finishes_and_times_its_epochs(in_tmp):
    """Lightning resumes a mid-epoch checkpoint without on_train_epoch_start: the epoch timer must still log."""
    common = ["--config", str(CONFIG_DIR / "vae-mnist.yaml"), "--data=gimzoo.data.RandomImages",
              "--data.batch_size=16", "--trainer.enable_progress_bar=false", "--trainer.logger=false",
              "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
              "--trainer.callbacks.every_n_train_steps=1", "--trainer.callbacks.save_last=true",
              "--trainer.callbacks.dirpath=runs/ckpt"]
    first = run(["fit", *common, "--trainer.max_epochs=2", "--trainer.max_steps=3"])
    assert first.trainer.global_step == 3 and first.trainer.num_training_batches > 3  # stopped inside epoch 0
    second = run(["fit", *common, "--trainer.max_epochs=2", "--ckpt_path=runs/ckpt/last.ckpt"])
    assert second.trainer.state.finished and second.trainer.current_epoch == 2
    assert 0 <= float(second.trainer.logged_metrics["time/epoch_s"]) < 60
