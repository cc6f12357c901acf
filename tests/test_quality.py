"""fid_lenet / kid_lenet / precision-recall through torch-fidelity with the shipped LeNet, and its checks."""
import os

import pytest
import torch
import torch.nn.functional as F

from gimzoo.metrics import quality
from gimzoo.metrics.quality import LeNet, extractor_manifest, fid_lenet_metric, load_lenet, sample_quality


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GIMZOO_CACHE", str(tmp_path / "cache"))


def strokes(n: int, seed: int) -> torch.Tensor:
    """Digit-like images: a few thick random strokes on black, smoothed; (n, 1, 28, 28) in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    img = torch.zeros(n, 1, 28, 28)
    t = torch.linspace(0, 1, 40)
    for _ in range(3):
        a, b = torch.rand(n, 2, generator=g) * 16 + 6, torch.rand(n, 2, generator=g) * 16 + 6
        pts = (a[:, None] + (b - a)[:, None] * t[None, :, None]).round().long().clamp(0, 27)  # (n, 40, 2)
        img.view(n, -1).scatter_(1, pts[..., 0] * 28 + pts[..., 1], 1.0)
    return F.avg_pool2d(F.max_pool2d(img, 3, 1, 1), 3, 1, 1).clamp(0, 1)


def test_the_mnist_extractor_is_shipped_small_and_accurate():
    entry = extractor_manifest()["lenet-mnist"]
    assert entry["test_accuracy"] >= 0.99 and entry["n_test"] == 10_000
    path = quality.WEIGHTS_DIR / entry["file"]
    assert path.stat().st_size < 5_000_000 and quality.sha256_of(path) == entry["sha256"]
    net, digest = load_lenet("mnist")
    assert digest == entry["sha256"] and net(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_a_tampered_extractor_is_refused(tmp_path, monkeypatch):
    entry = extractor_manifest()["lenet-mnist"]
    bad = tmp_path / entry["file"]
    bad.write_bytes((quality.WEIGHTS_DIR / entry["file"]).read_bytes()[:-1] + b"\0")
    monkeypatch.setattr(quality, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(ValueError, match="refusing to load"):
        load_lenet("mnist")
    with pytest.raises(KeyError, match="no shipped feature extractor for dataset 'cifar10'"):
        load_lenet("cifar10")


def test_fid_lenet_is_near_zero_for_one_distribution_and_grows_with_noise_and_blur():
    real, other = strokes(1000, 0), strokes(1000, 1)
    same = sample_quality(other, real, "mnist")
    fids = {"same": same["fid_lenet"]}
    for level in (0.1, 0.3, 0.6):
        noisy = (other + level * torch.randn(other.shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
        fids[f"noise{level}"] = sample_quality(noisy, real, "mnist")["fid_lenet"]
    for k in (3, 5, 9):
        fids[f"blur{k}"] = sample_quality(F.avg_pool2d(other, k, 1, k // 2), real, "mnist")["fid_lenet"]
    noise_only = sample_quality(torch.rand(1000, 1, 28, 28), real, "mnist")["fid_lenet"]
    assert fids["same"] < 0.05 * noise_only
    assert fids["same"] < fids["noise0.1"] < fids["noise0.3"] < fids["noise0.6"]
    assert fids["same"] < fids["blur3"] < fids["blur5"] < fids["blur9"]
    assert abs(same["kid_lenet"]) < 0.1 * sample_quality(torch.rand(1000, 1, 28, 28), real, "mnist")["kid_lenet"]
    assert same["precision_lenet"] > 0.5 and same["recall_lenet"] > 0.5


def test_reference_statistics_are_cached_under_the_extractor_hash(tmp_path):
    real, fake = strokes(300, 0), strokes(300, 1)
    first = sample_quality(fake, real, "mnist", real_key="strokes-300")
    digest = extractor_manifest()["lenet-mnist"]["sha256"][:16]
    cached = list((tmp_path / "cache" / "fidelity").rglob("*"))
    assert any(f"strokes-300-lenet-mnist-{digest}" in p.name for p in cached)
    assert sample_quality(fake, real, "mnist", real_key="strokes-300")["fid_lenet"] == pytest.approx(first["fid_lenet"])


def test_sample_quality_is_torch_fidelitys_calculate_metrics_step_by_step():
    """The steps run one by one (to time them apart) give exactly what one calculate_metrics call gives."""
    import torch_fidelity

    from gimzoo.metrics.quality import Profile, _Uint8Images, register_fidelity_extractor

    real, fake = strokes(400, 0), (strokes(400, 1) + 0.3 * torch.rand(400, 1, 28, 28)).clamp(0, 1)
    profile = Profile()
    ours = sample_quality(fake, real, "mnist", profile=profile)
    theirs = torch_fidelity.calculate_metrics(
        input1=_Uint8Images(fake), input2=_Uint8Images(real), fid=True, kid=True, prc=True, cuda=False,
        feature_extractor=register_fidelity_extractor("mnist"), verbose=False, kid_subset_size=400, prc_neighborhood=3)
    assert ours["fid_lenet"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-5)
    assert ours["kid_lenet"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4, abs=1e-6)
    assert (ours["precision_lenet"], ours["recall_lenet"]) == (theirs["precision"], theirs["recall"])
    assert set(profile.seconds) == {"reference statistics", "features", "fid, kid, precision/recall"}


def test_torchmetrics_metric_agrees_with_torch_fidelity():
    real, fake = strokes(500, 0), (strokes(500, 1) + 0.2 * torch.rand(500, 1, 28, 28)).clamp(0, 1)
    metric = fid_lenet_metric("mnist")
    metric.update(real, real=True)
    metric.update(fake, real=False)
    # torch-fidelity sees uint8 images; the metric sees floats: the same up to rounding
    assert float(metric.compute()) == pytest.approx(sample_quality(fake, real, "mnist")["fid_lenet"], rel=0.02)


def test_sample_quality_rejects_other_shapes():
    with pytest.raises(ValueError, match=r"expected fake images of shape \(N, 1, 28, 28\)"):
        sample_quality(torch.rand(10, 3, 32, 32), strokes(10, 0), "mnist")


def test_inception_needs_a_local_weights_file():
    with pytest.raises(FileNotFoundError, match="needs a local weights file"):
        quality.inception_quality(torch.rand(4, 3, 32, 32), torch.rand(4, 3, 32, 32), None)


@pytest.mark.realdata
def test_fid_lenet_on_real_mnist_train_against_test():
    from gimzoo.data import MNIST

    if not os.environ.get("GIMZOO_DATA"):
        pytest.skip("set GIMZOO_DATA")
    dm = MNIST(download=False)
    train, test = dm.split("train")[0][:2000], dm.split("test")[0][:2000]
    floor = sample_quality(train, test, "mnist")["fid_lenet"]
    noise = sample_quality(torch.rand(2000, 1, 28, 28), test, "mnist")["fid_lenet"]
    assert floor < 0.01 * noise


def test_lenet_is_the_documented_architecture():
    net = LeNet()
    assert net.features(torch.rand(3, 1, 28, 28)).shape == (3, 128)
    assert sum(p.numel() for p in net.parameters()) < 1_000_000


def test_inception_metrics_end_to_end_with_a_stand_in_extractor(tmp_path, monkeypatch):
    """The natural-image path of gimzoo eval with a stand-in for torch-fidelity's InceptionV3 (no weights can be had
    here): the weights file is sha256-checked, handed to the extractor, the real statistics are cached, and without
    weights the metrics are n/a and every other metric is still there."""
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    import gimzoo
    from gimzoo.data import RandomImages
    from gimzoo.io import sha256_of
    from gimzoo.metrics import quality
    from gimzoo.metrics.evaluate import evaluate

    seen = []

    class StandIn(FeatureExtractorBase):
        def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
            super().__init__(name, features_list)
            seen.append(feature_extractor_weights_path)
            self.proj = torch.nn.Linear(3 * 4 * 4, 16)
            torch.nn.init.normal_(self.proj.weight, generator=torch.Generator().manual_seed(0))

        @staticmethod
        def get_provided_features_list():
            return ("2048",)

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return "2048"

        @staticmethod
        def can_be_compiled():
            return False

        def forward(self, x):
            return (self.proj(F.adaptive_avg_pool2d(x.float() / 255, 4).flatten(1)),)

    if "stand-in-inception" not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor("stand-in-inception", StandIn)
    weights = tmp_path / "weights-inception-2015-12-05-6726825d.pth"
    weights.write_bytes(b"stand-in weights")
    monkeypatch.setattr(quality, "INCEPTION", "stand-in-inception")
    monkeypatch.setattr(quality, "INCEPTION_SHA256_PREFIX", sha256_of(weights)[:8])
    monkeypatch.delenv("GIMZOO_INCEPTION_WEIGHTS", raising=False)

    model = gimzoo.create("vae", data_shape=(3, 16, 16), arch="dcgan", hidden=(8,), latent_dim=4).eval()
    data = RandomImages(data_shape=(3, 16, 16), n_train=100, n_test=60, val_size=10)
    without = evaluate(model, data, n=50, iwae_k=2)
    assert without["metrics"]["fid_inception"] is None and without["protocol"]["inception"].startswith("n/a")
    assert without["metrics"]["knn1_accuracy"] is not None and "fid_lenet" not in without["metrics"]

    monkeypatch.setenv("GIMZOO_INCEPTION_WEIGHTS", str(weights))
    first = evaluate(model, data, n=50, iwae_k=2)
    m = first["metrics"]
    assert seen[-1] == str(weights) and m["fid_inception"] > 0 and 0 <= m["precision_inception"] <= 1
    assert "stand-in-inception" in first["protocol"]["inception"] and "reference statistics" in first["profile"]
    cached = [p.name for p in (tmp_path / "cache" / "fidelity").rglob("*")]
    assert any(name.startswith("random-test-50-stand-in-inception") for name in cached)
    again = evaluate(model, data, n=50, iwae_k=2)
    assert again["metrics"]["fid_inception"] == pytest.approx(m["fid_inception"])

    weights.write_bytes(b"other weights")  # not the file whose hash is expected: refused before it is read
    with pytest.raises(ValueError, match="not torch-fidelity's InceptionV3 weights"):
        evaluate(model, data, n=50, iwae_k=2)
    with pytest.raises(FileNotFoundError, match="GIMZOO_INCEPTION_WEIGHTS"):
        quality.inception_quality(torch.rand(4, 3, 8, 8), torch.rand(4, 3, 8, 8), tmp_path / "missing.pth")
