import math

import pytest
import torch
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence

from gimzoo.objectives import (bernoulli_nll, gaussian_kl, gaussian_nll, hinge_critic_loss, hinge_generator_loss,
                               reconstruction_nll)


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


from gimzoo.objectives import critic_loss, generator_loss, mmd, squared_error  # noqa: E402


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_mmd_of_a_sample_with_itself_is_zero(kernel):
    x = torch.randn(200, 4)
    assert mmd(x, x, kernel, unbiased=False).abs() < 1e-5


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_unbiased_mmd_separates_distributions(kernel):
    g = torch.Generator().manual_seed(0)
    same = [mmd(torch.randn(500, 8, generator=g), torch.randn(500, 8, generator=g), kernel).item() for _ in range(5)]
    shifted = mmd(torch.randn(500, 8, generator=g), 0.5 + torch.randn(500, 8, generator=g), kernel).item()
    scaled = mmd(torch.randn(500, 8, generator=g), 0.5 * torch.randn(500, 8, generator=g), kernel).item()
    assert max(abs(v) for v in same) < 0.01  # unbiased: centred on 0, can be slightly negative
    assert shifted > 10 * max(abs(v) for v in same) and scaled > 10 * max(abs(v) for v in same)


def test_mmd_chunking_and_biased_form_agree_with_the_definition():
    x, y = torch.randn(37, 3), torch.randn(29, 3) + 1
    c = 2 * 3 * 1.0
    k = lambda a, b: (c / (c + torch.cdist(a, b).pow(2))).sum()
    ref = k(x, x) / 37**2 + k(y, y) / 29**2 - 2 * k(x, y) / (37 * 29)
    assert torch.allclose(mmd(x, y, "imq", scales=(1.0,), unbiased=False, chunk=5), ref, atol=1e-5)
    ub = (k(x, x) - 37) / (37 * 36) + (k(y, y) - 29) / (29 * 28) - 2 * k(x, y) / (37 * 29)
    assert torch.allclose(mmd(x, y, "imq", scales=(1.0,), chunk=7), ub, atol=1e-5)
    with pytest.raises(ValueError, match="expected samples"):
        mmd(x, torch.randn(5, 4))


def test_mmd_of_many_codes_keeps_the_small_difference_float32_sums_lose():
    """MMD^2 of 10^4 codes is a difference of sums of 10^8 kernel values: the sums run in float64, so float32 codes
    give the float64 computation's value (summed in float32 it was 30 % off)."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(10_000, 20, generator=g), torch.randn(10_000, 20, generator=g)
    value, exact = mmd(x, y, "imq"), mmd(x.double(), y.double(), "imq")
    assert value.dtype == torch.float32 and exact.dtype == torch.float64
    assert abs(float(value) - float(exact)) < 1e-3 * abs(float(exact))


def test_gan_losses():
    big = torch.full((10,), 30.0)
    assert critic_loss(big, -big) < 1e-6  # a perfect critic pays nothing
    assert torch.allclose(critic_loss(torch.zeros(4), torch.zeros(4)), torch.tensor(2 * math.log(2)))
    assert torch.allclose(generator_loss(torch.zeros(3)), torch.tensor(math.log(2)))
    assert squared_error(torch.ones(2, 1, 2, 2), torch.zeros(2, 1, 2, 2)).tolist() == [4.0, 4.0]


def test_hinge_losses():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-3.0, 0.0])
    # margins: real 2 -> 0, real 0.5 -> 0.5; fake -3 -> 0, fake 0 -> 1
    assert hinge_critic_loss(real, fake).item() == pytest.approx(0.25 + 0.5)
    assert hinge_critic_loss(torch.ones(3), -torch.ones(3)).item() == 0.0  # both at the margin
    assert hinge_generator_loss(fake, real).item() == pytest.approx(1.25 - (-1.5))
    assert hinge_generator_loss(fake).item() == pytest.approx(1.5)


def test_logistic_critic_recovers_the_log_density_ratio():
    """AVB's claim: T trained with critic_loss on (x, z~q(z|x)) vs (x, z~p(z)) tends to log q(z|x) - log p(z).
    Here x ~ N(0, 1), q(z|x) = N(x, 0.5^2), p(z) = N(0, 1)."""
    from gimzoo.nets import mlp

    torch.manual_seed(0)
    T = mlp([2, 64, 64, 1], act="elu")
    opt = torch.optim.Adam(T.parameters(), lr=3e-3)
    q = lambda x: Normal(x, 0.5)
    for _ in range(2000):
        x = torch.randn(512, 1)
        zq, zp = q(x).sample(), torch.randn(512, 1)
        loss = critic_loss(T(torch.cat([x, zq], 1)), T(torch.cat([x, zp], 1)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = torch.randn(2000, 1)
    z = q(x).sample()  # where q has its mass, which is where AVB evaluates T
    truth = (q(x).log_prob(z) - Normal(0.0, 1.0).log_prob(z)).squeeze(1)
    est = T(torch.cat([x, z], 1)).squeeze(1).detach()
    assert (est - truth).abs().mean() < 0.15
    assert abs(est.mean() - truth.mean()) < 0.1  # the KL estimate E_q[T] itself
