import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from gimzoo.data import (MNIST, DatasetNotFoundError, EpochShuffle, FashionMNIST, Grid25, RandomImages, Ring8,
                         TensorBatches, data_root, get_datamodule, pixels, read_idx)
from gimzoo.registry import UnknownNameError


def test_batches_cover_every_sample_once_and_reshuffle_per_epoch():
    x, y = torch.arange(103).float()[:, None], torch.arange(103)
    tb = TensorBatches(x, y, 10, shuffle=True, drop_last=False, seed=3)
    seen = torch.cat([b[1] for b in tb])
    assert len(tb) == 11 and sorted(seen.tolist()) == list(range(103))
    first = seen.clone()
    assert torch.equal(torch.cat([b[1] for b in tb]), first)  # same epoch, same order (resumable)
    tb.sampler.set_epoch(1)
    assert not torch.equal(torch.cat([b[1] for b in tb]), first)
    assert len(TensorBatches(x, y, 10, shuffle=True, drop_last=True)) == 10


def test_batches_resume_inside_an_epoch_or_after_its_last_batch():
    x, y = torch.arange(40).float()[:, None], torch.arange(40)
    tb = TensorBatches(x, y, 10, shuffle=True, drop_last=True, seed=1)
    order = []
    for epoch in (0, 1):
        tb.sampler.set_epoch(epoch)
        order.append(torch.cat([b[1] for b in tb]))
    tb.sampler.set_epoch(0)
    it = iter(tb)
    next(it), next(it)
    mid = TensorBatches(x, y, 10, shuffle=True, drop_last=True, seed=1)
    mid.load_state_dict(tb.state_dict())  # two batches of epoch 0 served: the other two follow
    assert torch.equal(torch.cat([b[1] for b in mid]), order[0][20:])
    list(it)
    end = TensorBatches(x, y, 10, shuffle=True, drop_last=True, seed=1)
    end.load_state_dict(tb.state_dict())  # every batch of epoch 0 served: epoch 1, whole
    assert end.sampler.epoch == 1 and torch.equal(torch.cat([b[1] for b in end]), order[1])


def test_shards_do_not_overlap():
    shards = [EpochShuffle(101, shuffle=True, seed=0, rank=r, world_size=3).indices() for r in range(3)]
    assert all(len(s) == 33 for s in shards)
    flat = torch.cat(shards)
    assert len(set(flat.tolist())) == 99


def test_batches_errors():
    with pytest.raises(ValueError, match="differ in length"):
        TensorBatches(torch.zeros(3, 1), torch.zeros(2), 1, True, True)
    with pytest.raises(ValueError, match="make no batch"):
        TensorBatches(torch.zeros(3, 1), torch.zeros(3), 8, True, True)


def test_splits_are_fixed_by_seed_and_disjoint():
    a, b, c = (RandomImages(n_train=100, val_size=20, seed=s) for s in (0, 0, 1))
    for dm in (a, b, c):
        dm.setup()
    assert torch.equal(a.split("val")[0], b.split("val")[0])
    assert not torch.equal(a.split("val")[0], c.split("val")[0])
    tr, va = a.split("train")[0], a.split("val")[0]
    assert len(tr) == 80 and len(va) == 20 and len(a.split("test")[0]) == 64
    assert not (tr[:, None] == va[None]).flatten(2).all(2).any()  # no image in both
    with pytest.raises(ValueError, match="unknown split"):
        a.split("holdout")


def test_toy_mixtures_follow_the_pacgan_protocol():
    ring = Ring8(n_train=8000, n_test=800, val_size=100)
    ring.setup()
    x, y = ring.split("train")
    d = (x - Ring8.means()[y]).norm(dim=1)
    assert d.max() < 6 * 0.01 and torch.allclose(Ring8.means().norm(dim=1), torch.ones(8))
    grid = Grid25(n_train=25_000, n_test=100, val_size=100)
    grid.setup()
    gx, gy = grid.split("train")
    assert len(Grid25.means()) == 25 and set(Grid25.means().flatten().tolist()) == {-4.0, -2.0, 0.0, 2.0, 4.0}
    assert abs((gx - Grid25.means()[gy]).std().item() - 0.05) < 0.003
    assert len(gy.unique()) == 25


def write_idx(path: Path, array: np.ndarray, gz: bool):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip_and_bad_magic(tmp_path, gz):
    a = np.random.randint(0, 255, size=(3, 28, 28))
    p = tmp_path / ("f.gz" if gz else "f")
    write_idx(p, a, gz)
    assert torch.equal(read_idx(p), torch.from_numpy(a.astype(np.uint8)))
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")


def test_mnist_from_a_data_root(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for stem, n in (("train", 50), ("t10k", 10)):
        write_idx(raw / f"{stem}-images-idx3-ubyte", np.full((n, 28, 28), 255), gz=False)
        write_idx(raw / f"{stem}-labels-idx1-ubyte.gz", np.arange(n) % 10, gz=True)
    dm = MNIST(data_dir=str(tmp_path), val_size=5, batch_size=8, download=False)
    dm.setup()
    x, y = dm.split("train")  # stored as uint8, a quarter of float32's memory; batches are floats in [0, 1]
    assert x.shape == (45, 1, 28, 28) and x.dtype == torch.uint8 and x.max() == 255 and y.dtype == torch.long
    batch, _ = next(iter(dm.train_dataloader()))
    assert batch.dtype == torch.float32 and batch.max() == 1.0 and torch.equal(pixels(x), x.float() / 255)
    assert len(dm.split("test")[0]) == 10


def test_missing_data_offline_names_the_directory_and_the_fix(tmp_path):
    dm = MNIST(data_dir=str(tmp_path), download=False)
    with pytest.raises(DatasetNotFoundError) as e:
        dm.setup()
    msg = str(e.value)
    assert str(tmp_path / "MNIST" / "raw") in msg and "GIMZOO_DATA" in msg and "train-images-idx3-ubyte" in msg


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("GIMZOO_DATA", str(tmp_path / "env"))
    assert data_root("/explicit") == Path("/explicit")
    assert data_root() == tmp_path / "env"
    monkeypatch.delenv("GIMZOO_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert data_root() == tmp_path / "cache" / "gimzoo" / "data"


def test_unknown_dataset_lists_known():
    with pytest.raises(UnknownNameError, match="known datasets: .*fashion-mnist.*mnist"):
        get_datamodule("mnsit")


@pytest.mark.realdata
@pytest.mark.skipif(not os.environ.get("GIMZOO_DATA"), reason="GIMZOO_DATA not set")
def test_real_mnist_splits():
    dm = MNIST(download=False)
    dm.setup()
    assert [len(dm.split(s)[0]) for s in ("train", "val", "test")] == [55_000, 5_000, 10_000]
    x = pixels(dm.split("test")[0])
    assert 0.12 < x.mean() < 0.14 and x.min() == 0 and x.max() == 1


@pytest.mark.realdata
@pytest.mark.skipif(not FashionMNIST.DEBIAN_DIR.is_dir(), reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist_from_debian(tmp_path):
    dm = FashionMNIST(data_dir=str(tmp_path), download=False)
    dm.setup()
    assert len(dm.split("test")[0]) == 10_000 and dm.split("train")[1].unique().tolist() == list(range(10))


def test_cifar10_missing_offline_says_where_and_how(tmp_path):
    from gimzoo.data import CIFAR10

    with pytest.raises(DatasetNotFoundError, match="cifar-10-batches-py.*GIMZOO_DATA"):
        CIFAR10(data_dir=str(tmp_path), download=False).setup()
    assert CIFAR10.data_shape == (3, 32, 32)
