"""Publishing and loading pretrained models, and `gimzoo eval`: a tiny run on random images end to end."""
import json
from pathlib import Path

import pytest
import torch
import yaml

import gimzoo
from gimzoo import hub
from gimzoo.cli import CONFIG_DIR, run
from gimzoo.registry import UnknownNameError


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One epoch of a small VAE on random images with the default (wandb, offline) logger; its .ckpt."""
    import os

    folder = tmp_path_factory.mktemp("run")
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        cli = run(["fit", "--config", str(CONFIG_DIR / "vae-mnist.yaml"), "--data=gimzoo.data.RandomImages",
                   "--data.n_train=300", "--data.val_size=50", "--data.batch_size=50", "--model.hidden=[32]",
                   "--trainer.max_epochs=1", "--trainer.enable_progress_bar=false"])
    finally:
        os.chdir(cwd)
    return folder / cli.trainer.checkpoint_callback.best_model_path, cli.model


def test_each_run_keeps_its_config_next_to_its_checkpoints(tiny_run):
    ckpt, _ = tiny_run
    config = hub.run_config_of(ckpt)
    assert config.parent == ckpt.parent.parent and "RandomImages" in config.read_text()


def test_publish_strips_evaluates_and_load_rebuilds_the_same_model(tiny_run, tmp_path):
    ckpt, trained = tiny_run
    entry = hub.publish(ckpt, "tiny-vae", checkpoint_dir=tmp_path, n=60)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["tiny-vae"] == entry
    assert entry["sha256"] == hub.sha256_of(tmp_path / "tiny-vae.safetensors") and entry["dataset"] == "random"
    assert entry["parameters"] == sum(p.numel() for p in trained.parameters())
    metrics = entry["evaluation"]["metrics"]
    assert metrics["recon_mse"] > 0 and metrics["kl_qzx_pz"] is not None and metrics["iwae_nll"] is not None
    assert entry["evaluation"]["protocol"]["n"] == 60
    model = hub.load("tiny-vae", checkpoint_dir=tmp_path)
    assert not model.training and hub.list_pretrained(tmp_path) == ["tiny-vae"]
    trained = trained.eval()
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model.encode(x), trained.encode(x)) and torch.equal(model.reconstruct(x), trained.reconstruct(x))


def test_publish_in_float16_halves_the_file_and_evaluates_the_rounded_weights(tiny_run, tmp_path, monkeypatch):
    from safetensors.torch import load_file

    ckpt, trained = tiny_run
    full = hub.publish(ckpt, "tiny-vae", checkpoint_dir=tmp_path / "full", evaluate_model=False)
    evaluated = []
    monkeypatch.setattr("gimzoo.metrics.evaluate.evaluate",
                        lambda model, datamodule, n: evaluated.append({k: v.clone() for k, v in model.state_dict().items()}))
    half = hub.publish(ckpt, "tiny-vae", checkpoint_dir=tmp_path / "half", dtype="float16")
    assert half["bytes"] < 0.51 * full["bytes"]
    stored = load_file(tmp_path / "half" / "tiny-vae.safetensors")
    assert {v.dtype for v in stored.values() if v.is_floating_point()} == {torch.float16}
    model = hub.load("tiny-vae", checkpoint_dir=tmp_path / "half")
    for k, v in model.state_dict().items():
        assert v.dtype == trained.state_dict()[k].dtype  # float32 parameters again
        rounded = trained.state_dict()[k].half().to(v.dtype) if v.is_floating_point() else trained.state_dict()[k]
        assert torch.equal(v, rounded) and torch.equal(evaluated[0][k], rounded), k
    assert any(not torch.equal(v, trained.state_dict()[k]) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="published in one of float32, float16, bfloat16, got 'int8'"):
        hub.publish(ckpt, "tiny-int8", checkpoint_dir=tmp_path / "int8", dtype="int8")
    assert not (tmp_path / "int8").exists()


def test_publishing_a_two_player_model_leaves_the_critic_out(tmp_path):
    model = gimzoo.create("bigan", hidden=(16,), critic_hidden=(16,))
    state = hub.inference_state(model)
    assert state and not any(k.startswith("critic.") for k in state)
    assert set(state) == {k for k in model.state_dict() if not k.startswith("critic.")}


def test_load_refuses_bytes_that_do_not_match_the_sha256_before_parsing(tiny_run, tmp_path, monkeypatch):
    ckpt, _ = tiny_run
    hub.publish(ckpt, "tiny-vae", checkpoint_dir=tmp_path, n=60, evaluate_model=False)
    weights = tmp_path / "tiny-vae.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    import safetensors.torch

    def never(*a, **k):
        raise AssertionError("the file was parsed before its hash was checked")

    monkeypatch.setattr(safetensors.torch, "load_file", never)
    with pytest.raises(hub.ChecksumError, match="refusing to parse"):
        hub.load("tiny-vae", checkpoint_dir=tmp_path)


def test_load_never_unpickles_and_names_the_known_models(tmp_path):
    pickled = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}}, pickled)
    manifest = {"evil": {"file": "evil.ckpt", "sha256": hub.sha256_of(pickled), "config": "", "model": "x"}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="only .safetensors"):
        hub.load("evil", checkpoint_dir=tmp_path)
    with pytest.raises(UnknownNameError, match="known pretrained models: evil"):
        hub.load("wae-mnsit", checkpoint_dir=tmp_path)


GOOD_DATA = {"class_path": "gimzoo.data.RandomImages", "init_args": {"n_train": 64}}
GOOD_MODEL = {"class_path": "gimzoo.models.VAE", "init_args": {"latent_dim": 2, "hidden": [8]}}


@pytest.mark.parametrize("config, message", [
    ({"model": {"class_path": "os.system", "init_args": {"command": "echo hi"}}, "data": GOOD_DATA},
     "refusing to build 'os.system'"),
    ({"model": {"class_path": "gimzoo.hub.publish"}, "data": GOOD_DATA}, "refusing to build 'gimzoo.hub.publish'"),
    ({"model": {"class_path": "gimzoo.models.base.GenerativeInferenceModel"}, "data": GOOD_DATA}, "refusing to build"),
    ({"model": GOOD_MODEL, "data": {"class_path": "gimzoo.data.get_datamodule"}}, "only gimzoo's datamodules"),
    ({"model": GOOD_MODEL, "data": {"class_path": "builtins.eval", "init_args": {"source": "1"}}}, "refusing"),
    ({"model": {"class_path": "gimzoo.models.VAE", "init_args": {"latent_dim": 2, "evil": 1}}, "data": GOOD_DATA},
     r"takes no argument\(s\) \['evil'\]"),
    ({"model": {"class_path": "gimzoo.models.VAE", "init_args": {"hidden": {"class_path": "os.system"}}},
      "data": GOOD_DATA}, r"\['hidden'\] must be plain values"),
    ({"model": GOOD_MODEL}, "needs a model and a data section"),
])
def test_configs_build_only_registered_zoo_classes_with_checked_arguments(config, message, monkeypatch):
    """A config from a manifest or a hub repo names only zoo classes with plain arguments of their signature;
    anything else is refused before a single class is called."""
    import os

    from gimzoo.data import RandomImages

    called = []
    monkeypatch.setattr(os, "system", lambda *a: called.append(a))
    import functools

    monkeypatch.setattr(RandomImages, "__init__", functools.wraps(RandomImages.__init__)(lambda *a, **k: called.append(a)))
    with pytest.raises(hub.UnsafeConfigError, match=message):
        hub.build_from_config(config)
    assert called == []


def test_zoo_configs_build_through_the_checked_builder():
    model, data = hub.build_from_config({"model": GOOD_MODEL, "data": GOOD_DATA})
    assert model.prior.latent_dim == 2 and data.name == "random"
    for cfg in CONFIG_DIR.glob("*.yaml"):  # every recipe of the zoo passes the checks
        spec = yaml.safe_load(cfg.read_text())
        hub._checked(spec["model"], "model"), hub._checked(spec["data"], "datamodule")


def _record_many(args):
    folder, prefix = args
    for i in range(25):
        hub.record(f"{prefix}-{i}", {"file": f"{prefix}-{i}.safetensors"}, Path(folder))


def test_concurrent_publishes_keep_every_entry(tmp_path):
    """Two processes writing the same manifest at once (two `gimzoo publish` in two terminals) keep all entries."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_record_many, [(str(tmp_path), "a"), (str(tmp_path), "b")])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert sorted(manifest) == sorted(f"{p}-{i}" for p in "ab" for i in range(25))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]  # no lock or temporary file left


class FakeHub:
    """The Hugging Face Hub as a folder: ``HfApi`` uploads into ``root/<repo_id>/``, ``hf_hub_download`` copies into
    a cache folder and, under ``HF_HUB_OFFLINE=1``, reads only that cache (as huggingface_hub does)."""

    def __init__(self, root: Path):
        self.root, self.cache, self.downloads = root / "hub", root / "hf-cache", []

    # HfApi
    def create_repo(self, repo_id, exist_ok=False, private=None):
        (self.root / repo_id).mkdir(parents=True, exist_ok=exist_ok)

    def upload_folder(self, repo_id, folder_path, commit_message=None):
        import shutil

        shutil.copytree(folder_path, self.root / repo_id, dirs_exist_ok=True)

    # hf_hub_download
    def hf_hub_download(self, repo_id, filename, revision=None, **kwargs):
        import os
        import shutil

        from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

        cached = self.cache / repo_id / filename
        if os.environ.get("HF_HUB_OFFLINE") == "1":
            if not cached.exists():
                raise LocalEntryNotFoundError(f"{repo_id}/{filename} is not in the cache and HF_HUB_OFFLINE is set")
            return str(cached)
        if not (self.root / repo_id / filename).exists():
            raise EntryNotFoundError(f"{filename} not found in {repo_id}")
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.root / repo_id / filename, cached)
        self.downloads.append(filename)
        return str(cached)


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    import huggingface_hub

    fake = FakeHub(tmp_path)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake.hf_hub_download)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return fake


def test_push_then_load_and_eval_from_the_hub(tiny_run, tmp_path, fake_hub, capsys):
    from gimzoo.cli import run as cli_run
    from gimzoo.modelcard import push

    ckpt, trained = tiny_run
    published = tmp_path / "published"
    entry = hub.publish(ckpt, "tiny-vae", checkpoint_dir=published, n=60)
    push("tiny-vae", "me/tiny-vae", checkpoint_dir=published, api=fake_hub)
    repo = fake_hub.root / "me" / "tiny-vae"
    assert sorted(p.name for p in repo.iterdir()) == sorted(
        ["tiny-vae.safetensors", "config.yaml", "gimzoo.json", "README.md", "samples.png"])
    assert json.loads((repo / "gimzoo.json").read_text()) == entry and (repo / "config.yaml").read_text() == entry["config"]
    card = (repo / "README.md").read_text()
    for k, v in entry["evaluation"]["metrics"].items():  # every metric, as the manifest has it
        assert f"| `{k}` | " + ("n/a" if v is None else f"{v:.5g}") + " |" in card
    assert entry["sha256"] in card and f"{entry['parameters']:,} parameters" in card and "library_name: gimzoo" in card
    assert "Kingma & Welling" in card and "gimzoo.load(\"hf-hub:me/tiny-vae\")" in card
    assert hub.read_manifest(published)["tiny-vae"]["hub"] == {"repo_id": "me/tiny-vae", "revision": None}

    model = gimzoo.load("hf-hub:me/tiny-vae")
    x = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model.reconstruct(x), trained.eval().reconstruct(x))
    cli_run(["eval", "hf-hub:me/tiny-vae", "--n", "40", "--iwae_k", "2"])
    assert "recon_mse" in capsys.readouterr().out


def test_hub_offline_with_a_warm_cache_and_refusals(tiny_run, tmp_path, fake_hub, monkeypatch):
    import safetensors.torch

    from gimzoo.modelcard import push

    ckpt, _ = tiny_run
    published = tmp_path / "published"
    hub.publish(ckpt, "tiny-vae", checkpoint_dir=published, evaluate_model=False)
    push("tiny-vae", "me/tiny-vae", checkpoint_dir=published, api=fake_hub)
    gimzoo.load("hf-hub:me/tiny-vae")  # warms the cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    gimzoo.load("hf-hub:me/tiny-vae")  # offline: from the cache alone
    with pytest.raises(Exception, match="not in the cache"):
        gimzoo.load("hf-hub:me/never-pushed")
    monkeypatch.delenv("HF_HUB_OFFLINE")

    # a tampered download is refused before it is parsed
    import shutil

    shutil.rmtree(fake_hub.cache)
    weights = fake_hub.root / "me" / "tiny-vae" / "tiny-vae.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"tampered")
    monkeypatch.setattr(safetensors.torch, "load_file", lambda *a, **k: pytest.fail("parsed a tampered file"))
    with pytest.raises(hub.ChecksumError, match="refusing to parse it"):
        gimzoo.load("hf-hub:me/tiny-vae")
    weights.unlink()  # a missing file names itself
    shutil.rmtree(fake_hub.cache)
    with pytest.raises(Exception, match="tiny-vae.safetensors not found"):
        gimzoo.load("hf-hub:me/tiny-vae")
    (fake_hub.root / "me" / "tiny-vae" / "gimzoo.json").write_text('{"file": "../../etc/passwd"}')
    with pytest.raises(ValueError, match="not a gimzoo manifest entry"):
        gimzoo.load("hf-hub:me/tiny-vae")


def test_a_published_name_downloads_from_its_recorded_hub_repo_then_the_mirror(tiny_run, tmp_path, fake_hub,
                                                                              monkeypatch):
    """Weights not in checkpoints/ nor the cache come from the entry's Hub repo; failing that, from $GIMZOO_HUB_URL."""
    from gimzoo.modelcard import push

    ckpt, _ = tiny_run
    published = tmp_path / "published"
    entry = hub.publish(ckpt, "tiny-vae", checkpoint_dir=published, evaluate_model=False)
    push("tiny-vae", "me/tiny-vae", checkpoint_dir=published, api=fake_hub)
    entry = hub.read_manifest(published)["tiny-vae"]
    monkeypatch.setattr(hub, "CHECKPOINT_DIR", tmp_path / "empty")
    monkeypatch.setenv("GIMZOO_HUB_CACHE", str(tmp_path / "cache"))
    assert hub._fetch(entry).read_bytes() == (published / "tiny-vae.safetensors").read_bytes()
    assert fake_hub.downloads[-1] == "tiny-vae.safetensors"
    missing = entry | {"hub": {"repo_id": "me/gone", "revision": None}}
    with pytest.raises(FileNotFoundError, match="hf-hub:me/gone"):
        hub._fetch(missing)
    monkeypatch.setenv("GIMZOO_HUB_URL", (published).as_uri())
    assert hub._fetch(missing) == tmp_path / "cache" / "tiny-vae.safetensors"


def test_the_wheel_knows_the_zoo_outside_the_repository(tmp_path):
    """Build the wheel, install it into a folder outside the checkout and load a published model from a local
    mirror of checkpoints/ (file:// URL) into an empty cache."""
    import os
    import subprocess
    import sys

    import shutil

    root = Path(__file__).resolve().parents[1]
    source, wheels, site = tmp_path / "source", tmp_path / "wheels", tmp_path / "site"
    source.mkdir()
    shutil.copytree(root / "src", source / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    for name in ("pyproject.toml", "README.md"):  # a copy: setuptools writes build/ into the tree it builds
        shutil.copyfile(root / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", str(source), "-w", str(wheels)], check=True,
                   capture_output=True, cwd=tmp_path)
    (wheel,) = wheels.glob("gimzoo-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(site), "GIMZOO_HUB_CACHE": str(tmp_path / "cache"),
           "GIMZOO_HUB_URL": (root / "checkpoints").as_uri()}
    env.pop("GIMZOO_CHECKPOINTS", None)
    code = ("import gimzoo; assert gimzoo.__file__.startswith(%r), gimzoo.__file__; "
            "print(gimzoo.list_pretrained()); print(tuple(gimzoo.load('wae-mnist').sample(4).shape))") % str(site)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert eval(out.stdout.splitlines()[0]) == hub.list_pretrained() and out.stdout.splitlines()[1] == "(4, 1, 28, 28)"
    assert (tmp_path / "cache" / "wae-mnist.safetensors").is_file()


def test_gimzoo_eval_prints_a_table_and_writes_json(tiny_run, tmp_path, capsys):
    ckpt, _ = tiny_run
    out = tmp_path / "eval.json"
    run(["eval", str(ckpt), "--n", "50", "--iwae_k", "4", "--json", str(out)])
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["protocol"] == {**result["protocol"], "split": "test", "n": 50, "seed": 0, "dataset": "random"}
    for key in ("recon_mse", "mmd_qz_pz", "knn1_accuracy", "linear_probe_accuracy", "iwae_nll", "mi_q"):
        assert key in printed and result["metrics"][key] is not None
    with pytest.raises(UnknownNameError, match="unknown pretrained model or checkpoint file"):
        run(["eval", "no-such-model"])


def test_figure_and_table_of_published_models(tiny_run, tmp_path, monkeypatch):
    from gimzoo.figures import zoo_figure

    ckpt, _ = tiny_run
    hub.publish(ckpt, "tiny-vae", checkpoint_dir=tmp_path, n=60)
    monkeypatch.setattr(hub, "CHECKPOINT_DIR", tmp_path)
    grid = zoo_figure(["tiny-vae", "tiny-vae"], str(tmp_path / "fig.png"), n=4)
    assert (tmp_path / "fig.png").exists() and grid.shape[0] == 3 and grid.shape[1] == 2 * 30 + 2
    table = hub.results_table()
    assert "| `tiny-vae` |" in table and "gimzoo fit --config zoo_configs/tiny-vae.yaml" in table


def test_figure_of_a_run_checkpoint_takes_the_config_that_trained_it(tiny_run, tmp_path, capsys):
    """A .ckpt away from its run folder is drawn with --config; without it, the error names the option."""
    import shutil

    ckpt, _ = tiny_run
    moved, out = tmp_path / "moved.ckpt", tmp_path / "fig.png"
    shutil.copy(ckpt, moved)
    with pytest.raises(FileNotFoundError, match="--config"):
        run(["figure", str(moved), "--n", "2", "--out", str(out)])
    run(["figure", str(moved), "--config", str(hub.run_config_of(ckpt)), "--n", "2", "--out", str(out)])
    assert out.exists() and f"wrote {out}" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        run(["figure", str(moved), str(moved), "--config", str(hub.run_config_of(ckpt)), "--out", str(out)])


@pytest.mark.parametrize("name", ["infogan", "mpcc"])
def test_cluster_figure_draws_a_row_per_cluster_its_samples_then_its_test_images(name, tmp_path, monkeypatch):
    from gimzoo.data import RandomImages
    from gimzoo.figures import cluster_figure

    from gimzoo import cli

    model = gimzoo.create(name, arch="mlp", hidden=(16,), critic_hidden=(16,)).eval()
    monkeypatch.setattr(cli, "load_for_eval", lambda name, config=None: (model, RandomImages(n_test=64)))
    grid = cluster_figure("tiny", str(tmp_path / "clusters.png"), n=3)
    assert (tmp_path / "clusters.png").exists() and grid.shape == (3, 10 * 30 + 2, 7 * 30 + 2)
    x = RandomImages(n_test=64).split("test")[0]
    y = int(model.cluster(x)[0])  # the first test image opens the members of its cluster's row
    assert torch.allclose(grid[0, 2 + 30 * y: 30 * y + 30, 2 + 4 * 30: 4 * 30 + 30], x[0, 0], atol=1 / 255)
    monkeypatch.setattr(cli, "load_for_eval", lambda name, config=None: (gimzoo.create("vae", hidden=(8,)), None))
    with pytest.raises(ValueError, match="discrete code"):
        cluster_figure("tiny", str(tmp_path / "vae.png"))


def test_the_confusion_figure_counts_every_test_image_with_the_matched_clusters_on_the_diagonal(tmp_path, monkeypatch,
                                                                                             capsys):
    from gimzoo import figures
    from gimzoo.data import RandomImages
    from gimzoo.metrics import hungarian_accuracy

    model, dm = gimzoo.create("mpcc", arch="mlp", hidden=(16,), critic_hidden=(16,)).eval(), RandomImages(n_test=64)
    monkeypatch.setattr(figures, "_load", lambda *_: (model, dm))
    table = figures.confusion_figure("tiny", str(tmp_path / "confusion.png"))
    x, y = dm.split("test")
    assert (tmp_path / "confusion.png").exists() and table.sum() == 64
    assert table.diagonal().sum() / 64 == pytest.approx(hungarian_accuracy(model.cluster(x), y))
    assert "| cluster | 0 |" in capsys.readouterr().out
    monkeypatch.setattr(figures, "_load", lambda *_: (gimzoo.create("vae", hidden=(8,)), dm))
    with pytest.raises(ValueError, match="discrete code"):
        figures.confusion_figure("tiny", str(tmp_path / "vae.png"))


def test_sample_cluster_holds_the_discrete_code():
    infogan = gimzoo.create("infogan", arch="mlp", hidden=(16,), critic_hidden=(16,))
    y = torch.tensor([3, 0, 9, 3])
    assert torch.equal(infogan.prior.split(infogan.prior.sample(4, y=y))[1].argmax(1), y)
    mpcc = gimzoo.create("mpcc", arch="mlp", hidden=(16,), critic_hidden=(16,))
    with torch.no_grad():
        mpcc.prior.means.mul_(100)  # components far apart: a draw from y lies nearest mu_y
    assert torch.equal(mpcc.prior.posterior(mpcc.prior.sample(4, y=y)).argmax(1), y)
    assert infogan.sample_cluster(y).shape == (4, 1, 28, 28) and infogan.n_clusters == mpcc.n_clusters == 10
    with pytest.raises(ValueError, match=r"expected component indices in \[0, 10\)"):
        mpcc.sample_cluster(torch.tensor([10]))
    with pytest.raises(ValueError, match="integer component indices"):
        infogan.sample_cluster(torch.tensor([1.0]))
    with pytest.raises(TypeError, match="no discrete code"):
        gimzoo.create("vae", hidden=(8,)).sample_cluster(y)


def test_figure_of_published_toy_models_is_one_row_of_three_density_images_each(tmp_path):
    from gimzoo.figures import zoo_figure

    grid = zoo_figure(["bigan-grid25", "ali-grid25"], str(tmp_path / "toy.png"))
    assert grid.shape == (3, 2 * (256 + 2) + 2, 3 * (256 + 2) + 2)
    assert grid.min() < 0.5  # ink where the samples are
    with pytest.raises(ValueError, match="images or 2-D points, not both"):
        zoo_figure(["bigan-grid25", "vae-mnist"], str(tmp_path / "mixed.png"))
    assert not (tmp_path / "mixed.png").exists()


def test_the_readme_table_is_the_manifest_table():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert hub.model_table() in readme, "regenerate the README's table with `gimzoo table`"


def test_the_model_table_has_a_row_per_registered_model_with_its_mnist_checkpoints_metrics():
    table = hub.model_table(link="{}.md").splitlines()
    assert len(table) == 2 + len(gimzoo.list_models())
    manifest = hub.read_manifest()
    for name in gimzoo.list_models():
        row = next(r for r in table if r.startswith(f"| [`{name}`]({name}.md) |"))
        metrics = (manifest.get(f"{name}-mnist") or {}).get("evaluation", {}).get("metrics", {})
        cells = [c.strip() for c in row.strip("|").split("|")][4:]
        assert cells == [f"{metrics[k]:.3g}" if metrics.get(k) is not None else "–" for k in hub.MODEL_TABLE_COLUMNS]
    assert "`beta-vae-mnist`" in next(r for r in table if r.startswith("| [`beta-vae`]"))
    assert "`beta-vae-mnist`" not in next(r for r in table if r.startswith("| [`vae`]"))


def test_every_published_checkpoint_loads_and_matches_its_recipe():
    for name in gimzoo.list_pretrained():
        entry = hub.read_manifest()[name]
        assert (Path(__file__).resolve().parents[1] / "zoo_configs" / f"{name}.yaml").exists(), name
        model = gimzoo.load(name)
        assert model.sample(2).shape[1:] == model.data_shape
        published = set(hub.inference_state(model))
        assert sum(p.numel() for n, p in model.named_parameters() if n in published) == entry["parameters"]
