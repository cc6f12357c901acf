"""The `gimzoo` command, the zoo configs and the Makefile's guard."""
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
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
    assert grids == ["recon_epoch000.png", "recon_epoch001.png", "samples_epoch000.png", "samples_epoch001.png"]
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
    assert [p.name for p in (in_tmp / "checkpoints").glob("*.ckpt")] == ["epoch=0-step=7.ckpt"]
