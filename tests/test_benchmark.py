"""gimzoo benchmark: the suite files, the equal-terms configs, resumability and the results files."""
import csv
import json
from pathlib import Path

import pytest
import yaml

from gimzoo import benchmark as bm
from gimzoo.hub import build_from_config
from gimzoo.registry import list_models

SUITES = sorted((Path(__file__).parents[1] / "benchmarks").glob("*.yaml"))


def test_the_two_suites_hold_every_registered_model_three_seeds_and_a_stated_reason():
    assert {p.stem for p in SUITES} >= {"mnist-equal", "fashion-mnist-equal"}
    for path in SUITES:
        suite = bm.load_suite(path)
        assert sorted(suite.models) == list_models() and suite.seeds == [0, 1, 2] and suite.categories == 10
        assert "why" in path.read_text().lower()  # the file says why this preset and budget


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
def test_every_model_of_a_suite_builds_with_the_same_bodies_latent_size_and_batch(path, tmp_path):
    suite = bm.load_suite(path)
    widths = set()
    for model in suite.models:
        config = suite.config(model, 1, tmp_path)
        assert config["seed_everything"] == 1 and config["trainer"]["max_epochs"] == suite.epochs
        assert config["data"]["init_args"]["batch_size"] == suite.batch_size
        args = config["model"]["init_args"]
        assert args["arch"] == suite.preset["arch"] and args["hidden"] == suite.preset["hidden"]
        if "critic_hidden" in args:
            widths.add(tuple(args["critic_hidden"]))
        net, _ = build_from_config(config)  # only zoo classes, checked arguments
        assert net.prior.latent_dim == suite.latent_dim, model
        if model in ("infogan", "mpcc"):
            assert net.n_clusters == suite.categories
    assert widths == {tuple(suite.preset["critic_hidden"])}


def test_a_model_has_the_same_networks_in_every_suite_of_one_preset(tmp_path):
    """The suites differ in their data only: a recipe's network choices outside the preset (batch norm beside a
    latent critic, say) must not change a model's layers from one dataset to the next."""
    import torch

    def layers(suite, model):
        net, _ = build_from_config(suite.config(model, 0, tmp_path))
        return [(type(m).__name__, tuple(p.shape for p in m.parameters(recurse=False)))
                for m in net.modules() if not isinstance(m, torch.nn.Sequential)]

    suites = [bm.load_suite(p) for p in SUITES]
    for suite in suites[1:]:
        assert suite.preset == suites[0].preset and suite.latent_dim == suites[0].latent_dim
        for model in suite.models:
            assert layers(suite, model) == layers(suites[0], model), f"{model}: {suite.name} and {suites[0].name}"


def test_a_suite_with_an_unknown_key_or_model_is_refused_with_what_is_expected(tmp_path):
    good = yaml.safe_load(SUITES[0].read_text())
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**good, "budget": 3}))
    with pytest.raises(ValueError, match=r"unknown keys \['budget'\].*epochs: the budget"):
        bm.load_suite(tmp_path / "bad.yaml")
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**good, "models": ["vae", "gan"]}))
    with pytest.raises(LookupError, match="unknown model 'gan'"):
        bm.load_suite(tmp_path / "bad.yaml")
    with pytest.raises(FileNotFoundError, match="known suites in benchmarks/: .*mnist-equal"):
        bm.load_suite("no-such-suite")
    assert bm.load_suite("mnist-equal").name == "mnist-equal"  # a name finds benchmarks/<name>.yaml


def row(model, seed, **metrics):
    return {"suite": "s", "model": model, "family": "(1)", "seed": seed, "fit_s": 10.0 + seed, "eval_s": 5.0,
            "epochs": 1, "batch_size": 8, "precision": "32-true", "machine": "cpu", "commit": "abc",
            "protocol": "{}", **metrics}


def test_rows_are_appended_atomically_with_the_union_of_columns_and_a_rerun_replaces_its_row(tmp_path):
    path = tmp_path / "s.csv"
    bm.append_row(path, row("vae", 0, fid_lenet=3.0))
    bm.append_row(path, row("mpcc", 0, cluster_hungarian_accuracy=0.9))
    bm.append_row(path, row("vae", 0, fid_lenet=2.0))
    rows = bm.read_rows(path)
    assert [(r["model"], r["fid_lenet"], r["cluster_hungarian_accuracy"]) for r in rows] == [
        ("mpcc", "", "0.9"), ("vae", "2.0", "")]
    assert not list(tmp_path.glob(".*tmp"))


def test_the_summary_is_mean_and_sample_std_over_seeds_and_the_report_draws_the_figure(tmp_path):
    suite = bm.Suite("s", "mnist", ["vae", "bigan"], [0, 1, 2], {"arch": "mlp"}, 4, 10, 8, 1)
    rows = [row("vae", s, fid_lenet=v, linear_probe_accuracy=0.5, mmd_qz_pz=0.1) for s, v in enumerate([1.0, 2.0, 3.0])]
    rows += [row("bigan", 0, fid_lenet=7.0, linear_probe_accuracy="", mmd_qz_pz=0.2)]
    stats = bm.summary([{k: str(v) for k, v in r.items()} for r in rows], suite.models)
    assert stats["vae"]["fid_lenet"] == (2.0, 1.0, 3) and stats["vae"]["seeds"] == 3
    assert stats["bigan"]["fid_lenet"] == (7.0, 0.0, 1) and "linear_probe_accuracy" not in stats["bigan"]
    for r in rows:
        bm.append_row(tmp_path / "s.csv", r)
    bm.write_report(suite, tmp_path)
    md = (tmp_path / "s.md").read_text()
    assert "| `vae` | (1) | 3 | 2.000 ± 1.000 |" in md and "| linear probe ↑ |" in md and "| `bigan` | (1) | 1 | 7.000 |" in md
    assert "4 runs" in md and "![property 1 against property 2](s.png)" in md
    assert (tmp_path / "s.png").stat().st_size > 10_000


def test_finished_runs_are_skipped_and_a_killed_run_resumes_from_its_last_checkpoint(tmp_path, monkeypatch):
    suite = bm.Suite("s", "mnist", ["vae", "wae"], [0, 1], {"arch": "mlp"}, 4, 10, 8, 1)
    bm.append_row(tmp_path / "results" / "s.csv", row("vae", 0))
    calls = []

    def child(args, log):
        calls.append(args)
        if args[0] == "eval":
            Path(args[args.index("--json") + 1]).write_text(json.dumps({"metrics": {"fid_lenet": 1.0}, "protocol": {}}))

    monkeypatch.setattr(bm, "_child", child)
    monkeypatch.setattr(bm, "write_report", lambda *a: None)
    # wae seed 1 was killed in training: a checkpoint, no fit.done
    last = tmp_path / "runs" / "s" / "wae" / "seed1" / "fit" / "run" / "checkpoints" / "last.ckpt"
    last.parent.mkdir(parents=True)
    last.write_bytes(b"")
    new = bm.benchmark(suite, jobs=2, runs=tmp_path / "runs", results=tmp_path / "results")
    assert sorted((r["model"], r["seed"]) for r in new) == [("vae", 1), ("wae", 0), ("wae", 1)]
    fits = [c for c in calls if c[0] == "fit"]
    assert len(fits) == 3 and sum("--ckpt_path" in c for c in fits) == 1
    assert [c[c.index("--ckpt_path") + 1] for c in fits if "--ckpt_path" in c] == [str(last)]
    calls.clear()
    assert bm.benchmark(suite, runs=tmp_path / "runs", results=tmp_path / "results") == [] and calls == []
    # a failing run does not stop the others; the command fails at the end and names it
    suite.seeds = [0, 1, 2]

    def failing(args, log):
        if "seed2" in str(log) and args[0] == "fit" and "vae" in str(log):
            raise RuntimeError("`gimzoo fit` failed (exit 1)")
        child(args, log)

    monkeypatch.setattr(bm, "_child", failing)
    with pytest.raises(RuntimeError, match=r"1 of 2 runs failed .*\nvae seed 2: `gimzoo fit` failed"):
        bm.benchmark(suite, runs=tmp_path / "runs", results=tmp_path / "results")
    assert {(r["model"], r["seed"]) for r in bm.read_rows(tmp_path / "results" / "s.csv")} >= {("wae", "2")}
    rows = bm.read_rows(tmp_path / "results" / "s.csv")
    assert len(rows) == 5 and all(r["fit_s"] and r["commit"] for r in rows)


def test_a_tiny_suite_trains_and_evaluates_for_real_in_child_processes(tmp_path, monkeypatch):
    """Two models, one seed, on random images: gimzoo fit and gimzoo eval in child processes, one thread each."""
    configs = tmp_path / "configs"
    configs.mkdir()
    for name, cls in (("vae", "VAE"), ("bigan", "BiGAN")):
        (configs / f"{name}-random.yaml").write_text(yaml.safe_dump({
            "model": {"class_path": f"gimzoo.models.{cls}", "init_args": {}},
            "data": {"class_path": "gimzoo.data.RandomImages", "init_args": {"n_train": 64, "n_test": 40}}}))
    suite = bm.Suite("tiny", "random", ["vae", "bigan"], [0], {"arch": "mlp", "hidden": [8], "critic_hidden": [8]},
                     3, 10, 16, 1, checkpoint_every=2, eval_n=40, configs=configs)
    new = bm.benchmark(suite, runs=tmp_path / "runs", results=tmp_path / "results")
    assert [r["model"] for r in new] == ["vae", "bigan"]
    with open(tmp_path / "results" / "tiny.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["model"] for r in rows} == {"vae", "bigan"} and all(float(r["fit_s"]) > 0 for r in rows)
    assert all(not r.get("fid_lenet") and float(r["recon_mse"]) > 0 for r in rows)  # no LeNet for random images
    assert json.loads(rows[0]["protocol"])["dataset"] == "random"
    saved = yaml.safe_load((tmp_path / "runs" / "tiny" / "vae" / "seed0" / "fit" / "run" / "config.yaml").read_text())
    assert saved["model"]["init_args"]["latent_dim"] == 3 and saved["model"]["init_args"]["hidden"] == [8]
    assert (tmp_path / "results" / "tiny.md").is_file()


def test_a_run_time_sums_its_attempts_and_a_killed_attempt_counts_until_its_log_stopped(tmp_path):
    seconds, log = tmp_path / "seconds.json", tmp_path / "benchmark.log"
    log.write_text("")
    bm._timed(seconds, "fit_s", lambda: None, log)
    first = json.loads(seconds.read_text())
    assert first["open"] == {} and 0 <= first["fit_s"] < 1
    # an attempt killed 30 s after it started, its log last written then
    import os
    import time
    killed = {**first, "open": {"fit_s": time.time() - 100}}
    seconds.write_text(json.dumps(killed))
    os.utime(log, (time.time() - 70, time.time() - 70))
    total = bm._timed(seconds, "fit_s", lambda: None, log)
    assert 29.5 < total - first["fit_s"] < 31

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bm._timed(seconds, "eval_s", interrupted, log)
    assert json.loads(seconds.read_text())["open"] == {} and "eval_s" in json.loads(seconds.read_text())
