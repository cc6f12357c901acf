"""Any Lightning logger: grids go to the loggers that take images (and always to PNG files), and `gimzoo curves`
reads the training curves back from CSV, TensorBoard, MLflow and wandb logs."""
import os
from pathlib import Path

import pytest
import torch

from gimzoo.callbacks.grids import log_image
from gimzoo.cli import CONFIG_DIR, run
from gimzoo.curves import panels, plot_curves, read_curves

FIT = ["fit", "--config", str(CONFIG_DIR / "vae-mnist.yaml"), "--data=gimzoo.data.RandomImages",
       "--data.batch_size=16", "--trainer.max_epochs=2", "--trainer.log_every_n_steps=2",
       "--trainer.enable_progress_bar=false"]


def fit(*logger: str):
    cli = run([*FIT, *logger])
    return cli, Path(cli.trainer.checkpoint_callback.dirpath).parent


def check_curves(run_dir, source, logged):
    curves, found = read_curves(run_dir)
    assert found == source
    assert {"train/loss", "train/nll", "val/loss", "time/epoch_s"} <= set(curves)
    steps, values = zip(*curves["train/loss"])
    assert list(steps) == sorted(steps) and len(steps) >= 3
    assert values[-1] == pytest.approx(float(logged["train/loss"]), rel=1e-5)  # the last value logged
    assert len(curves["val/loss"]) == 2  # one per epoch
    return curves


def test_csv_logger_curves_and_the_plot(in_tmp, capsys):
    cli, run_dir = fit("--trainer.logger=lightning.pytorch.loggers.CSVLogger", "--trainer.logger.save_dir=runs")
    curves = check_curves(run_dir, "csv", cli.trainer.logged_metrics)
    assert set(panels(curves)) >= {"loss", "nll", "time/epoch_s"}
    assert set(panels(curves)["loss"]) == {"train/loss", "val/loss"}  # train and val share a panel
    run(["curves", str(run_dir), "--keys", "train/*"])
    out = capsys.readouterr().out
    assert (run_dir / "curves.png").stat().st_size > 5_000 and "from the csv logs" in out
    with pytest.raises(ValueError, match="no curve matches"):
        plot_curves(curves, in_tmp / "x.png", keys=["nothing*"])
    assert len(list((run_dir / "grids").glob("*.png"))) == 6  # PNG files whatever the logger


def test_tensorboard_logger_gets_the_grids_and_its_curves_are_read(in_tmp):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cli, run_dir = fit("--trainer.logger=lightning.pytorch.loggers.TensorBoardLogger",
                       "--trainer.logger.save_dir=runs")
    check_curves(run_dir, "tensorboard", cli.trainer.logged_metrics)
    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    assert {"grids/samples", "grids/recon", "grids/codes"} <= set(acc.Tags()["images"])


def test_wandb_the_default_logger_gets_the_grids_and_its_offline_log_is_read(in_tmp):
    """As a user runs it: `gimzoo fit` in its own process (which ends its wandb run), then `gimzoo curves`."""
    import subprocess
    import sys

    # a wandb run made earlier in this test process leaves WANDB_* variables (its service) that a child would join
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")} | {"WANDB_MODE": "offline"}
    done = subprocess.run([sys.executable, "-m", "gimzoo.cli", *FIT], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    (run_dir,) = Path("runs/gimzoo").iterdir()
    curves, found = read_curves(run_dir)
    assert found == "wandb" and {"train/loss", "train/nll", "val/loss", "time/epoch_s"} <= set(curves)
    assert len(curves["val/loss"]) == 2 and [s for s, _ in curves["train/loss"]] == sorted(s for s, _ in curves["train/loss"])
    metrics = [l for l in (Path("runs/wandb").glob("offline-run-*/files/wandb-summary.json"))]
    if metrics:  # the run's own summary holds the last logged values
        import json
        summary = json.loads(metrics[0].read_text())
        assert curves["train/loss"][-1][1] == pytest.approx(summary["train/loss"], rel=1e-6)
    assert list(Path("runs/wandb").glob("offline-run-*/files/media/images/grids/samples_*.png"))


def test_mlflow_file_store_curves(tmp_path):
    run_dir = tmp_path / "mlruns" / "1" / "abc123"
    (run_dir / "metrics" / "train").mkdir(parents=True)
    (run_dir / "metrics" / "train" / "loss").write_text("1700000000 3.5 0\n1700000001 2.5 10\n")
    (run_dir / "metrics" / "epoch").write_text("1700000000 0 0\n")
    curves, source = read_curves(run_dir)
    assert source == "mlflow" and curves["train/loss"] == [(0, 3.5), (10, 2.5)]


def test_images_go_to_loggers_that_take_them(monkeypatch):
    from lightning.pytorch.loggers import CSVLogger, MLFlowLogger

    img = torch.rand(3, 8, 10)
    assert log_image(CSVLogger("runs"), "grids/x", img, 3) is False

    class Experiment:
        def log_image(self, run_id, image, artifact_file):
            self.got = (run_id, image.shape, artifact_file)

    experiment = Experiment()
    monkeypatch.setattr(MLFlowLogger, "experiment", property(lambda self: experiment))
    monkeypatch.setattr(MLFlowLogger, "run_id", property(lambda self: "r1"))
    assert log_image(object.__new__(MLFlowLogger), "grids/x", img, 3)
    assert experiment.got == ("r1", (8, 10, 3), "grids/x/step0000003.png")

    class Wandb:
        def log_image(self, key, images, step):
            self.got = (key, len(images), step)

    wandb = Wandb()
    assert log_image(wandb, "grids/x", img, 3) and wandb.got == ("grids/x", 1, 3)


def test_curves_of_a_folder_without_logs_say_what_was_looked_for(tmp_path):
    with pytest.raises(FileNotFoundError, match="metrics.csv .*TensorBoard.*MLflow.*wandb"):
        read_curves(tmp_path)
    with pytest.raises(FileNotFoundError, match="no run folder"):
        read_curves(tmp_path / "missing")
