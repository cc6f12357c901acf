"""The scorecard: Monte-Carlo estimates of the terms of eqs. (1)-(4) (DESIGN.md), where a model has the
densities to estimate them, and the importance-weighted bound on -log p(x).

Every estimator needs an explicit density; a term that cannot be estimated for a model is ``None``
("n/a"), never a made-up value:

* E_q[-log p(x|z)] (``rec_nll``): needs a likelihood p(x|z) (Bernoulli or Gaussian decoder); z ~ q(z|x)
  (z = E(x) for a deterministic encoder, whose q(z|x) is a point mass).
* E_q(x) KL(q(z|x) || p(z)) (``kl_qzx_pz``): needs a Gaussian q(z|x); Monte Carlo,
  mean over x and ``n_z`` draws z ~ q(z|x) of log q(z|x) - log p(z) (any prior with a log density).
* I_q(x; z) (``mi_q``): needs a Gaussian q(z|x); E_x E_{z~q(z|x)} [log q(z|x) - log q(z)] with the
  aggregate q(z) = 1/M sum_j q(z|x_j) over the M evaluation images (the minibatch-free estimator of
  Hoffman & Johnson's "ELBO surgery"); it cannot exceed log M, so it is a lower estimate when the codes
  are very informative.
* KL(q(z) || p(z)) (``kl_qz_pz``): by eqs. (1) = (2), E_q KL(q(z|x) || p(z)) - I_q(x; z).
* E_p[-log q(z|x)] (``latent_nll_p``): needs a Gaussian q(z|x); z ~ p(z), x = E[x|z] (the generator's
  output, exact for a deterministic generator), then -log q(z|x).
* IWAE bound (``iwae_nll``, Burda et al. 2016): -log 1/k sum_i p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q(z|x),
  an upper bound on -log p(x) that tightens with k; needs a Gaussian q(z|x) and a likelihood. For images
  in [0, 1] with a Bernoulli decoder this is the density of the grey-level images as given (not of a
  binarised MNIST), so it is not comparable with binarised-MNIST figures.

All functions take x in the model's internal range and return nats per example.
"""
from __future__ import annotations

import math

import torch

from ..nets import GaussianEncoder
from ..objectives import reconstruction_nll

LOG_2PI = math.log(2 * math.pi)


def has_gaussian_encoder(model) -> bool:
    return isinstance(model.encoder, GaussianEncoder)


def has_likelihood(model) -> bool:
    return getattr(model.decoder, "likelihood", None) is not None


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(logvar)), summed over the last dimension."""
    return -0.5 * (((z - mu) ** 2) * torch.exp(-logvar) + logvar + LOG_2PI).sum(-1)


def pairwise_gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """(N, M): log N(z_i; mu_j, diag exp(logvar_j)) for every i, j, through three matrix products."""
    prec = torch.exp(-logvar)  # (M, d)
    quad = (z * z) @ prec.T - 2 * z @ (mu * prec).T + (mu * mu * prec).sum(1)
    return -0.5 * (quad + logvar.sum(1) + z.shape[1] * LOG_2PI)


@torch.no_grad()
def iwae_nll(model, x: torch.Tensor, k: int = 100) -> torch.Tensor | None:
    """(B,) the k-sample importance-weighted upper bound on -log p(x); None without the densities."""
    if not (has_gaussian_encoder(model) and has_likelihood(model)):
        return None
    mu, logvar = model.encoder(x)
    log_w = []
    for _ in range(k):
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        log_px_z = -reconstruction_nll(model.decoder.likelihood, x, model.decoder(z))
        log_w.append(log_px_z + model.prior.log_prob(z) - gaussian_log_density(z, mu, logvar))
    return -(torch.logsumexp(torch.stack(log_w), dim=0) - math.log(k))


@torch.no_grad()
def scorecard(model, x: torch.Tensor, n_z: int = 1, chunk: int = 1000) -> dict[str, float | None]:
    """The terms of eqs. (1)-(4) on the evaluation images x (internal range); see the module docstring."""
    out: dict[str, float | None] = dict.fromkeys(("rec_nll", "kl_qzx_pz", "mi_q", "kl_qz_pz", "latent_nll_p"))
    gaussian = has_gaussian_encoder(model)
    if has_likelihood(model):
        out["rec_nll"] = float(torch.cat([
            reconstruction_nll(model.decoder.likelihood, xb, model.decoder(model.encoder.rsample(xb)))
            for xb in x.split(chunk)]).mean())
    if not gaussian:
        return out
    mu, logvar = map(torch.cat, zip(*(model.encoder(xb) for xb in x.split(chunk))))
    kl, mi = [], []
    for _ in range(n_z):
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        log_q = gaussian_log_density(z, mu, logvar)
        kl.append(log_q - model.prior.log_prob(z))
        log_agg = torch.cat([torch.logsumexp(pairwise_gaussian_log_density(zb, mu, logvar), dim=1)
                             for zb in z.split(chunk)]) - math.log(len(z))
        mi.append(log_q - log_agg)
    out["kl_qzx_pz"], out["mi_q"] = float(torch.cat(kl).mean()), float(torch.cat(mi).mean())
    out["kl_qz_pz"] = out["kl_qzx_pz"] - out["mi_q"]
    z_p = model.prior.sample(len(x)).to(x.device)
    nll = []
    for zb in z_p.split(chunk):
        mu_b, logvar_b = model.encoder(model.decoder.mean(zb))
        nll.append(-gaussian_log_density(zb, mu_b, logvar_b))
    out["latent_nll_p"] = float(torch.cat(nll).mean())
    return out
