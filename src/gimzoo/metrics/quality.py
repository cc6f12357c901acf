"""Sample quality on 28x28 data: ``fid_lenet``, ``kid_lenet`` and precision/recall on the features of a small
classifier trained in the project on that dataset, computed by torch-fidelity.

Why not InceptionV3: its ImageNet features say little about 28x28 digits, and its weights must be
downloaded. A LeNet trained on the dataset itself is small (shipped in the package, sha256-checked), fast
on a CPU and sensitive to what matters for digits and clothes (class identity and stroke shape).

* :class:`LeNet`: conv 5x5 (32) - pool - conv 5x5 (64) - pool - fc 128 - fc 10. Its 128 penultimate
  ReLU activations (``"fc"``) are the features of FID, KID and precision/recall.
* :func:`train_lenet` trains it reproducibly (``gimzoo extractor --data mnist``); the weights and their
  sha256 are written to ``gimzoo/metrics/weights/`` with the recipe and the test accuracy.
* :class:`LeNetFeatureExtractor` is registered with torch-fidelity as ``lenet-<dataset>``;
  :func:`sample_quality` runs torch-fidelity's steps of ``calculate_metrics`` with it and caches the real split's
  features under a key that includes the weights' hash, so new weights never reuse stale statistics.
* :func:`fid_lenet_metric` gives the same extractor as a torchmetrics ``FrechetInceptionDistance`` for use
  during training.
* :func:`inception_quality`: InceptionV3 FID/KID through torch-fidelity, only from a local weights file.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..io import atomic_save_safetensors, atomic_write_text, sha256_of

WEIGHTS_DIR = Path(__file__).parent / "weights"
MANIFEST = WEIGHTS_DIR / "extractors.json"


class LeNet(nn.Module):
    """x (B, 1, 28, 28) in [0, 1] -> logits (B, 10); ``features(x)`` -> (B, 128)."""

    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.fc = nn.Sequential(nn.Linear(64 * 7 * 7, 128), nn.ReLU())
        self.head = nn.Linear(128, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv((x - 0.5) / 0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# -- shipped weights --------------------------------------------------------------------------------------

def extractor_manifest() -> dict[str, dict]:
    """name -> {file, sha256, dataset, test_accuracy, recipe} of every shipped extractor."""
    return json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}


def extractor_name(dataset: str) -> str:
    return f"lenet-{dataset}"


def load_lenet(dataset: str) -> tuple[LeNet, str]:
    """The shipped LeNet of ``dataset`` and its sha256, checked before the file is parsed."""
    from safetensors.torch import load_file

    name, known = extractor_name(dataset), extractor_manifest()
    if name not in known:
        raise KeyError(f"no shipped feature extractor for dataset {dataset!r}; known: "
                       f"{', '.join(v['dataset'] for v in known.values()) or 'none'}")
    entry = known[name]
    path = WEIGHTS_DIR / entry["file"]
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; re-create it with `gimzoo extractor --data {dataset}`")
    digest = sha256_of(path)
    if digest != entry["sha256"]:
        raise ValueError(f"{path} has sha256 {digest}, expected {entry['sha256']}: refusing to load it")
    net = LeNet()
    net.load_state_dict(load_file(path), strict=True)
    return net.eval().requires_grad_(False), digest


def train_lenet(dataset: str = "mnist", epochs: int = 4, batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                data_dir: str | None = None, out_dir: str | os.PathLike = WEIGHTS_DIR) -> dict:
    """Train the extractor of ``dataset`` on its training split (the zoo's 55,000 images, the same split the
    models train on), report test accuracy, write ``lenet-<dataset>.safetensors`` atomically and its entry
    (sha256, accuracy, recipe) into ``extractors.json``. Deterministic for a seed on one machine."""
    from ..data import get_datamodule, pixels

    torch.manual_seed(seed)
    dm = get_datamodule(dataset, data_dir=data_dir, download=False)
    (x, y), (x_test, y_test) = dm.split("train"), dm.split("test")
    x, x_test = pixels(x), pixels(x_test)
    net, g = LeNet(), torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr)
    steps = epochs * (len(x) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    t0 = time.time()
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(len(x) // batch_size):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    with torch.no_grad():
        acc = float(torch.cat([net(xb).argmax(1) for xb in x_test.split(1000)]).eq(y_test).float().mean())
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = extractor_name(dataset)
    path = out_dir / f"{name}.safetensors"
    atomic_save_safetensors(net.state_dict(), path)
    entry = {"file": path.name, "sha256": sha256_of(path), "dataset": dataset, "test_accuracy": acc,
             "n_test": len(x_test), "train_seconds": round(time.time() - t0, 1),
             "recipe": {"epochs": epochs, "batch_size": batch_size, "lr": lr, "schedule": "one-cycle", "seed": seed,
                        "train_split": f"{len(x)} images (the zoo's training split)"}}
    manifest_path = out_dir / MANIFEST.name
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest[name] = entry
    atomic_write_text(manifest_path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return entry


# -- torch-fidelity ---------------------------------------------------------------------------------------

def _fidelity_extractor_class(dataset: str):
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase

    class LeNetFeatureExtractor(FeatureExtractorBase):
        """torch-fidelity wrapper: uint8 (B, 1, 28, 28) -> ("fc" (B, 128), "logits" (B, 10))."""

        def __init__(self, name, features_list, **kwargs):
            super().__init__(name, features_list)
            self.net, self.sha256 = load_lenet(dataset)
            self.net.to(memory_format=torch.channels_last)  # oneDNN's faster CPU convolutions, the same arithmetic

        @staticmethod
        def get_provided_features_list():
            return "fc", "logits"

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return {"fid": "fc", "kid": "fc", "prc": "fc", "isc": "logits"}[metric]

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros(1, 1, 28, 28, dtype=torch.uint8)

        def forward(self, x):
            h = self.net.features(x.float() / 255.0)
            out = {"fc": h, "logits": self.net.head(h)}
            return tuple(out[k] for k in self.features_list)

    return LeNetFeatureExtractor


def register_fidelity_extractor(dataset: str) -> str:
    """Register ``lenet-<dataset>`` with torch-fidelity (once) and return the name."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    name = extractor_name(dataset)
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(name, _fidelity_extractor_class(dataset))
    return name


class _Uint8Images(torch.utils.data.Dataset):
    """Images in [0, 1] -> uint8 tensors, the input torch-fidelity expects."""

    def __init__(self, x: torch.Tensor):
        self.x = (x.clamp(0, 1) * 255).round().to(torch.uint8)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.x[i]


def cache_root() -> Path:
    """Where reference statistics are cached: ``$GIMZOO_CACHE`` or ``~/.cache/gimzoo``, subfolder ``fidelity``."""
    base = os.environ.get("GIMZOO_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gimzoo"
    return Path(base) / "fidelity"


class Profile:
    """Seconds spent in each named part of a computation: ``with profile("features"): ...`` adds to that part."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, part: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[part] = self.seconds.get(part, 0.0) + time.perf_counter() - t0


def fidelity_metrics(fake: torch.Tensor, real: torch.Tensor, extractor: str, real_key: str | None = None,
                     profile: Profile | None = None, kid_subset_size: int = 1000, prc_neighborhood: int = 3,
                     **extractor_kwargs) -> dict[str, float]:
    """FID, KID (mean, std) and precision/recall of ``fake`` against ``real`` (images in [0, 1]) on the features of
    the torch-fidelity extractor ``extractor``: torch-fidelity's steps of ``calculate_metrics``, called one by one so
    that ``profile`` can time the reference statistics (the real set's features and FID statistics, read from the
    cache when ``real_key`` names them and the cache has them), the samples' features and the metrics apart."""
    from torch_fidelity.metric_fid import fid_featuresdict_to_statistics_cached, fid_statistics_to_metric
    from torch_fidelity.metric_kid import kid_featuresdict_to_metric
    from torch_fidelity.metric_prc import prc_featuresdict_to_metric
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY
    from torch_fidelity.utils import (create_feature_extractor, extract_featuresdict_from_input_id_cached,
                                      get_cacheable_input_name)

    profile = profile or Profile()
    kwargs = {"input1": _Uint8Images(fake), "input2": _Uint8Images(real), "fid": True, "kid": True, "prc": True,
              "feature_extractor": extractor, "cuda": torch.cuda.is_available() and extractor.startswith("inception"),
              "verbose": False, "save_cpu_ram": True, "batch_size": 100,
              "kid_subset_size": min(kid_subset_size, len(fake), len(real)), "prc_neighborhood": prc_neighborhood,
              "prc_batch_size": 1000, **extractor_kwargs}  # 1,000 rows of distances: the same radii, twice as fast
    if real_key is not None:  # the cache entry's name: the real set, the extractor and its weights' hash
        kwargs |= {"input2_cache_name": real_key, "cache_root": str(cache_root())}
    layer = FEATURE_EXTRACTORS_REGISTRY[extractor].get_default_feature_layer_for_metric("fid")
    feature_extractor = create_feature_extractor(extractor, [layer], **kwargs)
    with profile("reference statistics"):
        real_features = extract_featuresdict_from_input_id_cached(2, feature_extractor, **kwargs)
        real_stats = fid_featuresdict_to_statistics_cached(real_features, get_cacheable_input_name(2, **kwargs),
                                                           feature_extractor, layer, **kwargs)
    with profile("features"):
        fake_features = extract_featuresdict_from_input_id_cached(1, feature_extractor, **kwargs)
    with profile("fid, kid, precision/recall"):
        fake_stats = fid_featuresdict_to_statistics_cached(fake_features, get_cacheable_input_name(1, **kwargs),
                                                           feature_extractor, layer, **kwargs)
        m = fid_statistics_to_metric(fake_stats, real_stats, False)
        m |= kid_featuresdict_to_metric(fake_features, real_features, layer, **kwargs)
        m |= prc_featuresdict_to_metric(fake_features, real_features, layer, **kwargs)
    return {"fid": m["frechet_inception_distance"], "kid": m["kernel_inception_distance_mean"],
            "kid_std": m["kernel_inception_distance_std"], "precision": m["precision"], "recall": m["recall"]}


def sample_quality(fake: torch.Tensor, real: torch.Tensor, dataset: str, real_key: str | None = None,
                   kid_subset_size: int = 1000, prc_neighborhood: int = 3, profile: Profile | None = None) -> dict[str, float]:
    """fid_lenet, kid_lenet (mean and std), precision_lenet and recall_lenet of ``fake`` against ``real``
    (both (N, 1, 28, 28) in [0, 1]) on the features of the shipped LeNet of ``dataset``.

    ``real_key`` names the real set (e.g. ``"mnist-test-10000"``) to cache its features; the cache entry
    also carries the extractor's sha256."""
    for what, x in (("fake", fake), ("real", real)):
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"expected {what} images of shape (N, 1, 28, 28), got {tuple(x.shape)}")
    name = register_fidelity_extractor(dataset)
    _, digest = load_lenet(dataset)
    m = fidelity_metrics(fake, real, name, real_key and f"{real_key}-{name}-{digest[:16]}", profile, kid_subset_size,
                         prc_neighborhood)
    return {f"{k}_lenet": v for k, v in m.items()}


#: torch-fidelity's InceptionV3 (the TensorFlow FID network) and the sha256 prefix its weights file carries in its name
INCEPTION = "inception-v3-compat"
INCEPTION_SHA256_PREFIX = "6726825d"


def inception_weights_path(path: str | os.PathLike | None = None) -> Path | None:
    """``path``, else ``$GIMZOO_INCEPTION_WEIGHTS``, else None (no Inception metrics)."""
    path = path or os.environ.get("GIMZOO_INCEPTION_WEIGHTS")
    return Path(path).expanduser() if path else None


def inception_quality(fake: torch.Tensor, real: torch.Tensor, weights_path: str | os.PathLike | None,
                      real_key: str | None = None, profile: Profile | None = None) -> dict[str, float]:
    """fid_inception, kid_inception (mean, std), precision_inception and recall_inception: torch-fidelity's
    ``inception-v3-compat`` from a local weights file (torch-fidelity's ``weights-inception-2015-12-05-6726825d.pth``,
    sha256-checked before it is read); images (N, C, H, W) in [0, 1], grey ones repeated to RGB. ``real_key``
    caches the real set's statistics (under the weights' hash)."""
    path = Path(weights_path) if weights_path else None
    if path is None or not path.is_file():
        raise FileNotFoundError(
            f"InceptionV3 FID needs a local weights file (torch-fidelity's weights-inception-2015-12-05-6726825d.pth); "
            f"got {weights_path!r}. Pass --inception_weights PATH or set GIMZOO_INCEPTION_WEIGHTS; gimzoo never "
            "downloads it.")
    digest = sha256_of(path)
    if not digest.startswith(INCEPTION_SHA256_PREFIX):
        raise ValueError(f"{path} has sha256 {digest[:16]}..., not torch-fidelity's InceptionV3 weights "
                         f"({INCEPTION_SHA256_PREFIX}...): refusing to read it (its FID would not be comparable)")
    if fake.shape[1] == 1:
        fake, real = fake.expand(-1, 3, -1, -1), real.expand(-1, 3, -1, -1)
    m = fidelity_metrics(fake, real, INCEPTION, real_key and f"{real_key}-{INCEPTION}-{digest[:16]}", profile,
                         feature_extractor_weights_path=str(path))
    return {f"{k}_inception": v for k, v in m.items()}


# -- torchmetrics, for use during training -----------------------------------------------------------------

class _LeNetFeatures(nn.Module):
    """torchmetrics feature module: images in [0, 1] (or uint8) -> 128 LeNet features."""

    def __init__(self, dataset: str):
        super().__init__()
        self.net, _ = load_lenet(dataset)
        self.num_features = 128

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        return self.net.features(x)


def fid_lenet_metric(dataset: str):
    """A torchmetrics ``FrechetInceptionDistance`` on the LeNet features of ``dataset``: ``update(x, real=...)``
    with images in [0, 1], ``compute()`` gives fid_lenet."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    return FrechetInceptionDistance(feature=_LeNetFeatures(dataset), normalize=True)
