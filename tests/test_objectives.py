import math

import pytest
import torch
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence

from gimzoo.objectives import bernoulli_nll, gaussian_kl, gaussian_nll, reconstruction_nll


def test_kl_of_a_distribution_with_itself_is_zero():
    mu, logvar = torch.randn(8, 5), torch.randn(8, 5)
    assert torch.allclose(gaussian_kl(mu, logvar, mu, logvar), torch.zeros(8), atol=1e-6)
    assert torch.allclose(gaussian_kl(torch.zeros(4, 3), torch.zeros(4, 3)), torch.zeros(4), atol=1e-7)


def test_kl_matches_torch_distributions():
    mq, lq, mp, lp = (torch.randn(16, 4) for _ in range(4))
    ref = kl_divergence(Independent(Normal(mq, (0.5 * lq).exp()), 1), Independent(Normal(mp, (0.5 * lp).exp()), 1))
    assert torch.allclose(gaussian_kl(mq, lq, mp, lp), ref, atol=1e-5)
    ref0 = kl_divergence(Independent(Normal(mq, (0.5 * lq).exp()), 1), Independent(Normal(0 * mq, 1 + 0 * mq), 1))
    assert torch.allclose(gaussian_kl(mq, lq), ref0, atol=1e-5)


def test_analytic_kl_equals_monte_carlo():
    torch.manual_seed(1)
    mq, lq = torch.tensor([[0.7, -1.2, 0.3]]), torch.tensor([[-0.5, 0.4, -1.5]])
    mp, lp = torch.tensor([[0.1, 0.2, -0.3]]), torch.tensor([[0.3, -0.2, 0.1]])
    q, p = Normal(mq, (0.5 * lq).exp()), Normal(mp, (0.5 * lp).exp())
    z = q.sample((400_000,))
    mc = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean()
    assert abs(mc.item() - gaussian_kl(mq, lq, mp, lp).item()) < 0.01


def test_bernoulli_nll_matches_log_prob_and_reduces_per_sample():
    logits = torch.randn(6, 1, 4, 4)
    x = torch.bernoulli(torch.full_like(logits, 0.5))
    ref = -Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    out = bernoulli_nll(x, logits)
    assert out.shape == (6,) and torch.allclose(out, ref, atol=1e-5)
    assert torch.allclose(reconstruction_nll("bernoulli", x, (logits,)), ref, atol=1e-5)


def test_gaussian_nll_matches_log_prob():
    x, m = torch.randn(5, 3, 2, 2), torch.randn(5, 3, 2, 2)
    log_sigma = torch.tensor(-0.7)
    ref = -Normal(m, log_sigma.exp()).log_prob(x).flatten(1).sum(1)
    assert torch.allclose(gaussian_nll(x, m, log_sigma), ref, atol=1e-4)
    # at the mean with sigma = 1 only the normaliser remains: d/2 log(2 pi)
    assert torch.allclose(gaussian_nll(m, m, torch.tensor(0.0)), torch.full((5,), 6 * math.log(2 * math.pi)))


def test_unknown_likelihood_raises():
    with pytest.raises(ValueError, match="known: bernoulli, gaussian"):
        reconstruction_nll("poisson", torch.zeros(1, 2), (torch.zeros(1, 2),))
