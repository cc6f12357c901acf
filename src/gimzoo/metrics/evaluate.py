"""``evaluate(model, datamodule)``: every metric the model has what it takes for, with its protocol.

What is measured, on ``n`` images of ``split`` (the first n, in the split's fixed order) and, where a
fit is needed, the training split:

* sample quality (28x28 datasets with a shipped extractor): fid_lenet, kid_lenet, precision/recall_lenet
  of n samples of p(x) against the n real images;
* representation: recon_mse (per pixel, [0, 1]), 1-NN (Euclidean and cosine) and linear-probe accuracy of
  the labels from encode(x), fit on the training split;
* latent marginal: unbiased MMD^2 (IMQ kernel, WAE scales) of the n codes against n samples of p(z);
* the scorecard of eqs. (1)-(4) and the IWAE bound where the densities exist (:mod:`.likelihood`);
* clustering scores for models with ``cluster(x)``; mode coverage for the 2-D mixtures (2,500 samples).

Every random draw comes from ``seed``; the result says which n, split, seed and extractor hash it used.
"""
from __future__ import annotations

import contextlib
import itertools
import time

import torch
import torch.nn.functional as F

from ..data.batches import pixels
from ..objectives import mmd
from .clustering import clustering_scores
from .likelihood import iwae_nll, scorecard
from .modes import mode_coverage
from . import quality as fidelity
from .quality import Profile, extractor_manifest, extractor_name, inception_quality, inception_weights_path, sample_quality
from .representation import knn_accuracy, linear_probe_accuracy

N_MODE_SAMPLES = 2500
#: images a network pass: (250, ...) activations stay in a CPU's cache, 1.5-2x faster than 1,000 for the zoo's convs
EVAL_CHUNK = 250
IWAE_CHUNK = 100


def _batched(fn, x: torch.Tensor, chunk: int = EVAL_CHUNK) -> torch.Tensor:
    return torch.cat([fn(xb) for xb in x.split(chunk)])


@torch.no_grad()
def evaluate(model, datamodule, n: int = 10_000, split: str = "test", seed: int = 0, iwae_k: int = 100,
             quality: bool = True, representation: bool = True, probe: bool = True,
             inception_weights: str | None = None) -> dict:
    """Evaluate ``model`` (any zoo model, put in eval mode) on ``datamodule``; returns
    ``{"metrics": {...}, "protocol": {...}, "seconds": ..., "profile": {part: seconds}}`` with None for metrics that
    do not apply.
    ``inception_weights``: a local InceptionV3 weights file (default ``$GIMZOO_INCEPTION_WEIGHTS``), to add
    fid_inception, kid_inception and precision/recall_inception; without one, natural images report them as n/a."""
    with torch.random.fork_rng(devices=[]):  # the caller's random stream (e.g. training's) is left untouched
        return _evaluate(model, datamodule, n, split, seed, iwae_k, quality, representation, probe, inception_weights)


@contextlib.contextmanager
def channels_last(model):
    """The model's 4-D weights in channels-last layout for the block, then back: the same arithmetic, which oneDNN's
    CPU convolutions run up to 1.7x faster in that layout (the VAE's transposed convolutions; docs/speed.md)."""
    model.to(memory_format=torch.channels_last)
    try:
        yield
    finally:
        model.to(memory_format=torch.contiguous_format)


def _evaluate(model, datamodule, n, split, seed, iwae_k, quality, representation, probe, inception_weights) -> dict:
    t0 = time.time()
    model.eval()
    with channels_last(model):
        metrics, protocol, profile = _measure(model, datamodule, n, split, seed, iwae_k, quality, representation, probe,
                                              inception_weights)
    return {"metrics": metrics, "protocol": protocol, "seconds": round(time.time() - t0, 1),
            "profile": {k: round(v, 2) for k, v in profile.seconds.items()}}


def _measure(model, datamodule, n, split, seed, iwae_k, quality, representation, probe, inception_weights):
    """(metrics, protocol, profile): every metric, and the seconds each part took."""
    profile = Profile()
    device = next(itertools.chain(model.parameters(), model.buffers())).device
    x, y = datamodule.split(split)
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    x, y = pixels(x[:n]).to(device), y[:n]
    n = len(x)
    torch.manual_seed(seed)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    metrics: dict[str, float | None] = {}
    protocol = {"split": split, "n": n, "seed": seed, "dataset": datamodule.name}

    # q(z): codes of the evaluation images and their marginal against p(z)
    with profile("codes"):
        z = _batched(model.encode, x)
    with profile("reconstruction"):
        metrics["recon_mse"] = float(_batched(lambda xb: ((model.reconstruct(xb) - xb) ** 2).flatten(1).mean(1), x).mean())
    z_prior = model.prior.sample(n, generator=gen).to(device)
    with profile("mmd"):
        metrics["mmd_qz_pz"] = float(mmd(z.float(), z_prior.float(), "imq"))
    protocol["mmd"] = "unbiased MMD^2, IMQ kernel summed over the WAE scales, n codes vs n prior samples"

    # p(x): n samples, decoded once for whichever extractors apply
    fakes: list[torch.Tensor] = []

    def samples() -> torch.Tensor:
        if not fakes:
            with profile("sampling"):
                z_fake = model.prior.sample(n, generator=gen).to(device)
                fakes.append(torch.cat([model.decode(zb) for zb in z_fake.split(EVAL_CHUNK)]).cpu())
        return fakes[0]

    if getattr(datamodule, "is_image", False) and tuple(datamodule.data_shape) == (1, 28, 28) and quality:
        name = extractor_name(datamodule.name)
        entry = extractor_manifest().get(name)
        if entry is not None:
            metrics |= sample_quality(samples(), x.cpu(), datamodule.name, real_key=f"{datamodule.name}-{split}-{n}",
                                      profile=profile)
            protocol["extractor"] = {"name": name, "sha256": entry["sha256"], "features": "fc (128)"}
            protocol["quality"] = f"{n} samples of p(x) vs the {n} {split} images; KID subsets of {min(1000, n)}"
    weights = inception_weights_path(inception_weights)
    natural = getattr(datamodule, "is_image", False) and tuple(datamodule.data_shape) != (1, 28, 28)
    if weights is not None and quality:
        metrics |= inception_quality(samples(), x.cpu(), weights, real_key=f"{datamodule.name}-{split}-{n}",
                                     profile=profile)
        protocol["inception"] = (f"torch-fidelity {fidelity.INCEPTION} from {weights.name}: {n} samples of p(x) vs the {n} "
                                 f"{split} images; KID subsets of {min(1000, n)}")
    elif natural and quality:
        metrics |= dict.fromkeys(("fid_inception", "kid_inception", "precision_inception", "recall_inception"))
        protocol["inception"] = ("n/a: no InceptionV3 weights (pass --inception_weights PATH or set "
                                 "GIMZOO_INCEPTION_WEIGHTS to torch-fidelity's weights file)")
    if hasattr(datamodule, "means"):
        with profile("modes"):
            samples = model.sample(N_MODE_SAMPLES, generator=gen).cpu()
            mc = mode_coverage(samples, datamodule.means(), datamodule.sigma)
        metrics |= {"modes_captured": mc.modes_captured, "n_modes": mc.n_modes,
                    "high_quality_fraction": mc.high_quality_fraction, "mode_reverse_kl": mc.reverse_kl,
                    "min_mode_fraction": mc.min_mode_fraction}
        protocol["modes"] = f"{N_MODE_SAMPLES} samples; high quality = within 3 sigma of the nearest mean"

    # representation: fit on the training split, score on the evaluation images (labels needed: an image folder
    # without class subfolders has none, label -1, and these metrics are n/a)
    labelled = bool((y >= 0).all()) and bool((datamodule.split("train")[1] >= 0).all())
    if not labelled:
        metrics |= dict.fromkeys(("knn1_accuracy", "knn1_cosine_accuracy", "linear_probe_accuracy"))
        protocol["representation"] = "n/a: the data have no labels"
    if representation and labelled:
        x_train, y_train = datamodule.split("train")
        with profile("training codes"):
            codes = []
            for chunk in x_train.split(EVAL_CHUNK):
                codes.append(model.encode(pixels(chunk).to(device)).cpu())
                if hasattr(datamodule, "release"):  # an image folder lets go of the memory-mapped pages read
                    datamodule.release()
            z_train = torch.cat(codes)
        zc = z.cpu()
        with profile("k-NN"):
            metrics["knn1_accuracy"] = knn_accuracy(z_train, y_train, zc, y, k=1)
            metrics["knn1_cosine_accuracy"] = knn_accuracy(z_train, y_train, zc, y, k=1, metric="cosine")
        if probe:
            with profile("probe"):
                metrics["linear_probe_accuracy"] = linear_probe_accuracy(z_train, y_train, zc, y)
        protocol["representation"] = f"fit on the {len(x_train)} training images, scored on the {n} {split} images"
    if model.n_clusters is not None and labelled:
        with profile("clustering"):
            s = clustering_scores(_batched(model.cluster, x).cpu(), y)
        metrics |= {"cluster_hungarian_accuracy": s.hungarian_accuracy, "cluster_majority_accuracy": s.majority_accuracy,
                    "cluster_nmi": s.nmi, "cluster_ari": s.ari}

    # the scorecard of eqs. (1)-(4) and the IWAE bound, in the model's internal range
    xi = model.to_internal(x)
    with profile("scorecard"):
        metrics |= scorecard(model, xi, chunk=EVAL_CHUNK)
    with profile("iwae"):
        # 100 images a chunk: the k decoder passes over (100, ...) activations stay in the CPU's cache
        iw = [iwae_nll(model, xb, k=iwae_k) for xb in xi.split(IWAE_CHUNK)]
        metrics["iwae_nll"] = None if iw[0] is None else float(torch.cat(iw).mean())
    protocol["iwae_k"] = iwae_k
    return metrics, protocol, profile


def real_data_floor(datamodule, n: int = 10_000) -> dict:
    """fid_lenet and the other sample-quality figures of the first n training images against the first n test
    images: the best a model can hope for (a perfect model's samples are as far from the test set)."""
    x_train, x_test = pixels(datamodule.split("train")[0][:n]), pixels(datamodule.split("test")[0][:n])
    t0 = time.time()
    metrics = sample_quality(x_train, x_test, datamodule.name, real_key=f"{datamodule.name}-test-{len(x_test)}")
    protocol = {"dataset": datamodule.name, "n": len(x_test), "real": "train[:n] vs test[:n]",
                "extractor_sha256": extractor_manifest()[extractor_name(datamodule.name)]["sha256"]}
    return {"metrics": metrics, "protocol": protocol, "seconds": round(time.time() - t0, 1)}
