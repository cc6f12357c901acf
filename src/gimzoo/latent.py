"""Latent-space tools: interpolation, traversal, maps of the codes, and nearest training images.

Each function takes a zoo model (``gimzoo.load(...)`` or a trained module) and [0, 1] images, and returns tensors
or arrays; :mod:`gimzoo.figures` draws them (``gimzoo figure NAME --interpolate | --traverse | --codes |
--neighbours``).

- :func:`interpolate`: decode the path between the codes of two images, linear or spherical (slerp, which keeps
  the norm of Gaussian codes typical along the way; White 2016, "Sampling generative networks").
- :func:`traverse`: vary one latent dimension at a time around the code of an image, over the prior's range.
- :func:`traverse_codes`: InfoGAN's categorical code (one column per category) and each continuous code.
- :func:`code_map`: the test codes in 2-D (PCA, t-SNE, or UMAP when ``umap-learn`` is installed).
- :func:`nearest_training`: for generated samples, the nearest training images in pixel space (memorisation).
"""
from __future__ import annotations

import math

import torch

from .nets.priors import InfoGANPrior

METHODS = ("linear", "slerp")
MAPS = ("pca", "tsne", "umap")


def _path(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor, method: str) -> torch.Tensor:
    """Points of the path from z0 to z1 (each (B, d)) at fractions t (T,) -> (B, T, d)."""
    t = t.to(z0.dtype)[None, :, None]
    a, b = z0[:, None], z1[:, None]
    if method == "linear":
        return (1 - t) * a + t * b
    if method != "slerp":
        raise ValueError(f"unknown interpolation {method!r}; known: {', '.join(METHODS)}")
    cos = torch.nn.functional.cosine_similarity(z0, z1, dim=1).clamp(-1.0, 1.0)[:, None, None]
    omega = torch.acos(cos)
    sin = torch.sin(omega)
    straight = sin.abs() < 1e-6  # (anti)parallel codes: the great circle is undefined, use the straight line
    safe = torch.where(straight, torch.ones_like(sin), sin)
    curve = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / safe
    return torch.where(straight, (1 - t) * a + t * b, curve)


@torch.no_grad()
def interpolate(model, x0: torch.Tensor, x1: torch.Tensor, steps: int = 9, method: str = "linear") -> torch.Tensor:
    """Decode the path between encode(x0) and encode(x1): x0, x1 (B, *data_shape) in [0, 1] -> (B, steps,
    *data_shape), the first and last columns the reconstructions of x0 and x1."""
    if steps < 2:
        raise ValueError(f"steps must be at least 2 (the two ends), got {steps}")
    if x0.shape != x1.shape:
        raise ValueError(f"x0 and x1 must have the same shape, got {tuple(x0.shape)} and {tuple(x1.shape)}")
    z = _path(model.encode(x0), model.encode(x1), torch.linspace(0, 1, steps), method)
    return model.decode(z.flatten(0, 1)).unflatten(0, z.shape[:2])


def _prior_quantiles(model, probs: torch.Tensor, n: int = 20_000) -> torch.Tensor:
    """(len(probs), latent_dim): per-dimension quantiles of the prior, estimated from n samples (seed 0), so a
    traversal spans a normal, uniform or mixture prior alike."""
    z = model.prior.sample(n, generator=torch.Generator(device=model.device).manual_seed(0)).float()
    return torch.quantile(z, probs.to(z), dim=0)


@torch.no_grad()
def active_dimensions(model, x: torch.Tensor) -> torch.Tensor:
    """Latent dimensions sorted by the variance of the codes of x, largest first: the dimensions the encoder uses
    (a VAE leaves unused ones at the prior's mean)."""
    return model.encode(x).float().var(dim=0).argsort(descending=True)


@torch.no_grad()
def traverse(model, x: torch.Tensor, dims: list[int] | torch.Tensor | None = None, steps: int = 9,
             span: float = 0.997) -> torch.Tensor:
    """Vary each latent dimension in ``dims`` around the code of one image x (1, *data_shape): dimension d runs
    evenly over the prior's central ``span`` quantile range (0.997: -3 to 3 for a standard normal prior) while the others
    keep encode(x). Returns (len(dims), steps, *data_shape). ``dims`` default to every dimension."""
    if x.shape[0] != 1:
        raise ValueError(f"traverse starts from one image, x of shape (1, {', '.join(map(str, x.shape[1:]))}); "
                         f"got {x.shape[0]}")
    if not 0 < span < 1:
        raise ValueError(f"span is a central probability mass in (0, 1), got {span}")
    z0 = model.encode(x)
    dims = torch.arange(z0.shape[1]) if dims is None else torch.as_tensor(dims)
    if len(dims) and (dims.min() < 0 or dims.max() >= z0.shape[1]):
        raise ValueError(f"dims must lie in [0, {z0.shape[1] - 1}], got {dims.tolist()}")
    low, high = _prior_quantiles(model, torch.tensor([(1 - span) / 2, (1 + span) / 2]))
    values = low + torch.linspace(0, 1, steps)[:, None] * (high - low)  # (steps, latent), evenly spaced
    z = z0.repeat(len(dims), steps, 1)  # (dims, steps, latent)
    rows = torch.arange(len(dims))
    z[rows, :, dims] = values[:, dims].T.to(z)
    return model.decode(z.flatten(0, 1)).unflatten(0, z.shape[:2])


@torch.no_grad()
def traverse_codes(model, rows: int = 10, steps: int = 9, span: float = 2.0, seed: int = 0) -> dict[str, torch.Tensor]:
    """InfoGAN's codes. ``"categorical"``: (rows, n_categories, ...), each row one draw of the noise and continuous
    codes, each column one category. ``"continuous_<i>"``: (n_categories, steps, ...), row k the category k, code
    u_i from -span to span (the paper's figures go to 2, past the training range [-1, 1]), the other codes at 0 and
    the noise fixed."""
    prior = getattr(model, "prior", None)
    if not isinstance(prior, InfoGANPrior):
        raise TypeError(f"traverse_codes draws InfoGAN's categorical and continuous codes; {type(model).__name__} "
                        "has none (use traverse)")
    g = torch.Generator(device=model.device).manual_seed(seed)
    K, C = prior.n_categories, prior.n_continuous
    noise, _, u = prior.split(prior.sample(rows, generator=g))  # (rows, ·): noise and u drawn
    onehot = torch.eye(K, dtype=noise.dtype, device=noise.device)
    codes = torch.cat([noise[:, None].expand(-1, K, -1), onehot.expand(rows, K, K), u[:, None].expand(-1, K, -1)], -1)
    out = {"categorical": model.decode(codes.flatten(0, 1)).unflatten(0, (rows, K))}
    for i in range(C):
        u = torch.zeros(K, steps, C, dtype=noise.dtype, device=noise.device)
        u[:, :, i] = torch.linspace(-span, span, steps, dtype=noise.dtype)
        codes = torch.cat([noise[:1, None].expand(K, steps, -1), onehot[:, None].expand(K, steps, K), u], -1)
        out[f"continuous_{i}"] = model.decode(codes.flatten(0, 1)).unflatten(0, (K, steps))
    return out


@torch.no_grad()
def code_map(model, x: torch.Tensor, method: str = "pca", seed: int = 0, chunk: int = 1000):
    """The codes encode(x) mapped to 2-D, as a float32 numpy array (len(x), 2). ``method``: ``pca`` (the two
    principal directions), ``tsne`` (scikit-learn, perplexity 30, PCA start) or ``umap`` (umap-learn)."""
    import numpy as np

    if method not in MAPS:
        raise ValueError(f"unknown map {method!r}; known: {', '.join(MAPS)}")
    from .callbacks.grids import pca_2d

    z = torch.cat([model.encode(xb).float() for xb in x.split(chunk)])
    if method == "pca":
        return pca_2d(z).numpy().astype(np.float32)
    z = z - z.mean(0)
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(2, perplexity=min(30.0, (len(z) - 1) / 3), init="pca", random_state=seed).fit_transform(
            z.numpy()).astype(np.float32)
    try:
        import umap
    except ImportError as e:
        raise ImportError("--codes umap needs umap-learn (pip install umap-learn); pca and tsne need nothing "
                          "more") from e
    return umap.UMAP(n_components=2, random_state=seed).fit_transform(z.numpy()).astype(np.float32)


@torch.no_grad()
def nearest_training(model, train: torch.Tensor, n: int = 8, k: int = 3, seed: int = 0,
                     chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n samples of p(x) (seed) and, for each, its k nearest training images in pixel space (Euclidean).
    ``train``: (N, *data_shape) uint8 or [0, 1] images. Returns (samples (n, ...), neighbours (n, k, ...),
    distances (n, k)); distances near 0 would mean copied training images."""
    from .data.batches import pixels

    if k < 1 or k > len(train):
        raise ValueError(f"k must be in [1, {len(train)}] (the training images), got {k}")
    samples = model.sample(n, generator=torch.Generator(device=model.device).manual_seed(seed)).float()
    flat = samples.flatten(1)
    best_d = torch.full((n, k), math.inf)
    best_i = torch.zeros(n, k, dtype=torch.long)
    for start in range(0, len(train), chunk):
        block = pixels(train[start:start + chunk]).float().flatten(1)
        d = torch.cdist(flat, block, compute_mode="donot_use_mm_for_euclid_dist")  # exact: a copy is at 0
        d_all = torch.cat([best_d, d], 1)
        i_all = torch.cat([best_i, torch.arange(start, start + len(block)).expand(n, -1)], 1)
        best_d, order = d_all.topk(k, dim=1, largest=False)
        best_i = i_all.gather(1, order)
    neighbours = pixels(train[best_i.flatten()]).float().unflatten(0, (n, k))
    return samples, neighbours, best_d
