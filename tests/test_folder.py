"""gimzoo.data.ImageFolder: labels from subfolders, the uint8 cache (made once, atomically), bad input."""
import numpy as np
import pytest
import torch
from PIL import Image

import gimzoo
from gimzoo.data import ImageFolder, RandomImages
from gimzoo.data import folder as folder_module
from gimzoo.data.folder import export_images
from gimzoo.metrics.evaluate import evaluate


def write_images(root, classes=("cat", "dog"), n=10, size=(12, 10), mode="RGB", seed=0):
    """n random images per class (or in root itself when classes is empty); returns {path: uint8 array}."""
    rng, written = np.random.default_rng(seed), {}
    for c in classes or ("",):
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
            a = rng.integers(0, 256, shape, dtype=np.uint8)
            path = root / c / f"{i:03d}.png"
            Image.fromarray(a, mode).save(path)
            written[path] = a
    return written


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GIMZOO_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "folders"


def test_labels_from_subfolders_splits_and_float_batches(tmp_path, cache):
    write_images(tmp_path / "pets", n=20)
    dm = ImageFolder(str(tmp_path / "pets"), image_size=8, val_size=4, test_size=0.1, batch_size=8)
    assert dm.data_shape == (3, 8, 8)
    dm.setup()
    sizes = {k: len(dm.split(k)[0]) for k in ("train", "val", "test")}
    assert sizes == {"train": 32, "val": 4, "test": 4} and dm.report["classes"] == ["cat", "dog"]
    x, y = dm.split("train")
    assert x.dtype == torch.uint8 and x.shape[1:] == (3, 8, 8) and set(y.tolist()) == {0, 1}
    batch, labels = next(iter(dm.train_dataloader()))
    assert batch.dtype == torch.float32 and batch.shape == (8, 3, 8, 8) and 0 <= batch.min() <= batch.max() <= 1
    released = []
    dm.release = lambda: released.append(1)  # the memory map's pages are let go every RELEASE_EVERY batches
    loader = dm.train_dataloader()
    loader.release_every = 2
    assert len(list(loader)) == 4 and len(released) == 2
    # one permutation of the seed, shared by the three splits: together they are every image once
    other = ImageFolder(str(tmp_path / "pets"), image_size=8, val_size=4, test_size=0.1, seed=1)
    assert not torch.equal(other.split("test")[0], dm.split("test")[0])
    assert sorted(p.name for p in cache.iterdir()) == sorted([dm.report["cache"].split("/")[-1],
                                                              other.report["cache"].split("/")[-1]])


def test_the_cache_is_made_once_and_remade_when_a_file_changes(tmp_path, cache, monkeypatch):
    files = write_images(tmp_path / "pets", n=6, size=(8, 8))
    ImageFolder(str(tmp_path / "pets"), val_size=2, test_size=2).setup()
    with monkeypatch.context() as m:
        m.setattr(folder_module, "decode", lambda *a: pytest.fail("decoded again"))
        again = ImageFolder(str(tmp_path / "pets"), val_size=2, test_size=2)
        again.setup()  # opens the cache, decodes nothing
        assert again.data_shape == (3, 8, 8)
    path = next(iter(files))
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)  # a changed file: a new cache entry
    changed = ImageFolder(str(tmp_path / "pets"), val_size=2, test_size=2)
    changed.setup()
    assert changed.report["cache"] != again.report["cache"] and len(list(cache.iterdir())) == 2


def test_pixels_are_the_files_own_when_no_resize_is_asked(tmp_path, cache):
    """Images of the folder's own size (no image_size): the cache holds exactly the files' pixels."""
    files = write_images(tmp_path / "g", classes=(), n=12, size=(9, 7), mode="L")
    dm = ImageFolder(str(tmp_path / "g"), channels=1, val_size=0, test_size=0)
    x, y = dm.split("train")
    assert dm.data_shape == (1, 7, 9) and (y == -1).all()
    assert sorted(a.tobytes() for a in x[:, 0].numpy()) == sorted(a.tobytes() for a in files.values())


def test_resize_keeps_the_short_side_and_crops_the_centre(tmp_path, cache):
    (tmp_path / "f").mkdir()
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, 10:30] = 200  # the centre square of a 40 x 20 image
    Image.fromarray(a).save(tmp_path / "f" / "wide.png")
    Image.fromarray(a).save(tmp_path / "f" / "wide2.png")
    dm = ImageFolder(str(tmp_path / "f"), image_size=10, val_size=0, test_size=0)
    x, _ = dm.split("train")
    assert x.shape == (2, 3, 10, 10) and (x[:, :, :, 2:-2] == 200).all()  # the bright centre, cropped


def test_the_mnist_export_reads_back_the_same_images(tmp_path, cache):
    """gimzoo export writes PNG files in class subfolders; ImageFolder reads back the same uint8 pixels and labels."""
    source = RandomImages(n_train=40, n_test=8, val_size=0)
    source.splits = {"train": ((torch.rand(40, 1, 28, 28) * 255).to(torch.uint8), torch.arange(40) % 4)}
    assert export_images(source, "train", tmp_path / "png") == 40
    dm = ImageFolder(str(tmp_path / "png"), image_size=28, channels=1, val_size=0, test_size=0)
    x, y = dm.split("train")
    pairs = lambda xs, ys: sorted((int(c), a.tobytes()) for a, c in zip(xs.numpy(), ys))  # noqa: E731
    assert pairs(x, y) == pairs(*source.splits["train"]) and dm.report["classes"] == ["0", "1", "2", "3"]


def test_bad_input_is_refused_clearly_and_leaves_no_cache(tmp_path, cache, capsys):
    root = tmp_path / "pets"
    write_images(root, n=5, size=(8, 8))
    (root / "cat" / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=r"cannot read .*broken\.png.*skip_bad_files"):
        ImageFolder(str(root), val_size=1, test_size=1).setup()
    assert not cache.exists() or list(cache.iterdir()) == []  # no half-written cache
    dm = ImageFolder(str(root), val_size=1, test_size=1, skip_bad_files=True)
    dm.setup()
    assert dm.report["skipped"] == ["cat/broken.png"] and dm.report["n"] == 10
    assert "skipped 1 unreadable file(s) of 11" in capsys.readouterr().out

    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(ValueError, match="no images"):
        ImageFolder(str(tmp_path / "empty")).setup()
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        ImageFolder(str(tmp_path / "missing")).setup()
    mixed = tmp_path / "mixed"
    write_images(mixed, classes=("a",), n=2, size=(8, 8))
    write_images(mixed, classes=("b",), n=2, size=(9, 8), seed=1)
    with pytest.raises(ValueError, match=r"different sizes .*8x8.*8x9.*set image_size"):
        ImageFolder(str(mixed), val_size=0, test_size=0).setup()
    assert ImageFolder(str(mixed), image_size=6, val_size=0, test_size=0).split("train")[0].shape == (4, 3, 6, 6)
    with pytest.raises(ValueError, match="channels must be 1 or 3"):
        ImageFolder(str(mixed), channels=2)


def test_a_decode_killed_half_way_leaves_no_cache(tmp_path, cache, monkeypatch):
    write_images(tmp_path / "pets", n=8, size=(8, 8))
    real, calls = folder_module.decode, []

    def dies(*args):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(folder_module, "decode", dies)
    with pytest.raises(KeyboardInterrupt):
        ImageFolder(str(tmp_path / "pets"), workers=1).setup()
    assert not cache.exists() or list(cache.iterdir()) == []


def test_a_folder_trains_and_evaluates_without_labels(tmp_path, cache):
    from gimzoo.cli import CONFIG_DIR, run

    write_images(tmp_path / "flat", classes=(), n=40, size=(16, 16), mode="L")
    cli = run(["fit", "--config", str(CONFIG_DIR / "vae-mnist.yaml"), "--data=gimzoo.data.ImageFolder",
               f"--data.root={tmp_path / 'flat'}", "--data.image_size=28", "--data.channels=1",
               "--data.batch_size=8", "--data.val_size=8", "--data.test_size=8", "--trainer.fast_dev_run=2",
               f"--trainer.default_root_dir={tmp_path / 'runs'}", "--trainer.enable_progress_bar=false"])
    assert cli.trainer.state.finished and cli.model.data_shape == (1, 28, 28)
    model = gimzoo.create("vae", hidden=(8,), latent_dim=2, data_shape=(1, 28, 28))
    result = evaluate(model, cli.datamodule, n=8, iwae_k=2)
    assert result["metrics"]["knn1_accuracy"] is None and result["metrics"]["linear_probe_accuracy"] is None
    assert result["protocol"]["representation"] == "n/a: the data have no labels"


def test_celeba64_crops_the_centre_and_keeps_the_official_splits(tmp_path, cache):
    from gimzoo.data import CelebA64, DatasetNotFoundError

    with pytest.raises(DatasetNotFoundError, match=r"no CelebA in .*celeba.*GIMZOO_DATA"):
        CelebA64(data_dir=str(tmp_path), download=False).setup()
    folder = tmp_path / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    rows = []
    for i, part in enumerate([0, 0, 0, 1, 2, 0, 2]):
        a = np.zeros((218, 178, 3), np.uint8)  # the aligned images' size
        a[39:179, 19:159] = 40 * i  # the centre 140 x 140 carries the image's number
        Image.fromarray(a).save(folder / f"{i:06d}.jpg", quality=100)
        rows.append(f"{i:06d}.jpg {part}")
    (tmp_path / "celeba" / "list_eval_partition.txt").write_text("\n".join(rows) + "\n")
    dm = CelebA64(data_dir=str(tmp_path), download=False)
    assert dm.data_shape == (3, 64, 64)
    x, _ = dm.split("train")
    assert {k: len(dm.split(k)[0]) for k in ("train", "val", "test")} == {"train": 4, "val": 1, "test": 2}
    assert x.shape == (4, 3, 64, 64) and (dm.split("train")[1] == -1).all()
    assert [round(float(v)) for v in x.float().mean((1, 2, 3))] == [0, 40, 80, 200]  # the crop, nothing outside it


def test_publish_figure_and_eval_of_a_model_trained_on_a_folder(tmp_path, cache, monkeypatch, capsys):
    """gimzoo publish, figure and eval work on an image folder (colour, 32x32, labelled) as on MNIST."""
    from gimzoo import hub
    from gimzoo.cli import CONFIG_DIR, run
    from gimzoo.figures import zoo_figure

    write_images(tmp_path / "pets", n=24, size=(40, 36))
    cli = run(["fit", "--config", str(CONFIG_DIR / "vae-cifar10.yaml"), "--data=gimzoo.data.ImageFolder",
               f"--data.root={tmp_path / 'pets'}", "--data.image_size=32", "--data.batch_size=8", "--data.val_size=8",
               "--data.test_size=8", "--model.hidden=[8]", "--trainer.max_epochs=1", "--trainer.logger=false",
               f"--trainer.default_root_dir={tmp_path / 'runs'}", "--trainer.enable_progress_bar=false"])
    ckpt = tmp_path / "runs" / "checkpoints" / "last.ckpt"
    entry = hub.publish(ckpt, "pets-vae", checkpoint_dir=tmp_path / "published", n=8)
    assert entry["dataset"] == "folder" and entry["evaluation"]["metrics"]["knn1_accuracy"] is not None
    assert entry["evaluation"]["protocol"]["inception"].startswith("n/a")  # no InceptionV3 weights here
    monkeypatch.setattr(hub, "CHECKPOINT_DIR", tmp_path / "published")
    grid = zoo_figure(["pets-vae"], str(tmp_path / "fig.png"), n=4)
    assert grid.shape[0] == 3 and (tmp_path / "fig.png").is_file()
    run(["eval", "pets-vae", "--n", "8", "--iwae_k", "2"])
    assert "no Inception metrics" in capsys.readouterr().out
    assert cli.datamodule.report["classes"] == ["cat", "dog"]
