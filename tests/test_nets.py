import math

import pytest
import torch

from gimzoo.nets import (DecoderBody, DeterministicEncoder, EncoderBody, GaussianEncoder, GaussianMixturePrior,
                         NoiseEncoder, StandardNormalPrior, UnaryJointCritic, UniformPrior, XCritic, XZCritic, ZCritic,
                         RandomView, make_decoder, random_contrast, random_rotate_shift)
from gimzoo.nets.bodies import Maxout, init_weights, mlp

SHAPES = [("mlp", (1, 28, 28), (64,)), ("conv", (1, 28, 28), (8, 16)), ("conv", (3, 32, 32), (8, 16, 32)),
          ("mlp", (3, 32, 32), (32, 16)), ("mlp", (2,), (16, 16))]


@pytest.mark.parametrize("arch,shape,hidden", SHAPES)
def test_bodies_round_trip_shapes(arch, shape, hidden):
    x = torch.rand(4, *shape)
    body = EncoderBody(shape, arch, hidden)
    h = body(x)
    assert h.shape == (4, body.out_features)
    assert DecoderBody(5, shape, arch, hidden)(torch.randn(4, 5)).shape == (4, *shape)


def test_conv_bodies_with_fully_connected_layers():
    """InfoGAN's MNIST nets: conv (64, 128) then FC 1024 in the critic; FC 1024 then the projection in the generator."""
    enc, dec = EncoderBody((1, 28, 28), "conv", (8, 16), fc=(32, 24)), DecoderBody(5, (1, 28, 28), "conv", (8, 16), fc=(32, 24))
    assert enc.out_features == 24 and enc(torch.rand(4, 1, 28, 28)).shape == (4, 24)
    assert [m.out_features for m in enc.modules() if isinstance(m, torch.nn.Linear)] == [32, 24]
    assert [m.out_features for m in dec.modules() if isinstance(m, torch.nn.Linear)] == [24, 32, 16 * 7 * 7]
    assert dec(torch.randn(4, 5)).shape == (4, 1, 28, 28)
    with pytest.raises(ValueError, match="put them in hidden"):
        EncoderBody((1, 28, 28), "mlp", (8,), fc=(4,))


def test_dcgan_init_draws_weights_at_0_02_and_zeroes_biases():
    torch.manual_seed(0)
    body = DecoderBody(64, (1, 28, 28), "conv", (64, 128), fc=(256,))
    default = [p.clone() for p in body.parameters()]
    assert init_weights(body, "default") is body and all(torch.equal(a, b) for a, b in zip(default, body.parameters()))
    init_weights(body, "dcgan")
    layers = [m for m in body.modules() if isinstance(m, (torch.nn.Linear, torch.nn.ConvTranspose2d))]
    norms = [m for m in body.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))]
    assert len(layers) == 4 and len(norms) == 3
    for m in layers:
        assert abs(m.weight.std().item() - 0.02) < 0.002 and abs(m.weight.mean().item()) < 0.002
        assert m.bias is None or (m.bias == 0).all()
    for m in norms:
        assert abs(m.weight.mean().item() - 1) < 0.01 and 0 < m.weight.std() < 0.03 and (m.bias == 0).all()
    with pytest.raises(ValueError, match="unknown weight init 'xavier'; known: default, dcgan"):
        init_weights(body, "xavier")


def test_conv_body_rejects_incompatible_shape():
    with pytest.raises(ValueError, match="divisible by 8"):
        EncoderBody((1, 28, 28), "conv", (8, 16, 32))
    with pytest.raises(ValueError, match="unknown arch"):
        EncoderBody((1, 28, 28), "vit", (8,))
    with pytest.raises(ValueError, match="halves images down to 4x4"):
        DecoderBody(4, (3, 9, 9), "dcgan", (8,))
    with pytest.raises(ValueError, match=r"expects images, data_shape \(C, H, W\)"):
        EncoderBody((2,), "resnet", (8,))


@pytest.mark.parametrize("arch", ["dcgan", "resnet"])
def test_scaled_bodies_take_their_depth_from_the_image_size(arch):
    """Stride-2 stages down to 4x4 (or an odd side), widths doubling from hidden[0] up to 8 times it."""
    from gimzoo.nets import conv_widths

    assert conv_widths(arch, (3, 32, 32), (64,)) == [64, 128, 256]
    assert conv_widths(arch, (3, 64, 64), (64,)) == [64, 128, 256, 512]
    assert conv_widths(arch, (3, 128, 128), (64,)) == [64, 128, 256, 512, 512]
    assert conv_widths(arch, (1, 28, 28), (32,)) == [32, 64]
    assert conv_widths("conv", (3, 64, 64), (32, 64)) == [32, 64]
    for shape, side in (((3, 32, 32), 4), ((3, 64, 64), 4), ((1, 28, 28), 7)):
        enc, dec = EncoderBody(shape, arch, (8,)), DecoderBody(5, shape, arch, (8,))
        widths = conv_widths(arch, shape, (8,))
        assert enc(torch.rand(2, *shape)).shape == (2, widths[-1] * side * side) == (2, enc.out_features)
        assert dec(torch.randn(2, 5)).shape == (2, *shape)
        convs = [m for m in enc.modules() if isinstance(m, torch.nn.Conv2d)]
        assert convs[0].in_channels == shape[0] and max(c.out_channels for c in convs) == widths[-1]
        if arch == "resnet":  # residual blocks: every stage adds its shortcut
            from gimzoo.nets.bodies import DownBlock, UpBlock

            assert sum(isinstance(m, DownBlock) for m in enc.modules()) == len(widths)
            assert sum(isinstance(m, UpBlock) for m in dec.modules()) == len(widths)


def test_encoders():
    body = EncoderBody((1, 28, 28), "mlp", (32,))
    x = torch.rand(6, 1, 28, 28)
    mu, logvar = GaussianEncoder(body, 3)(x)
    assert mu.shape == logvar.shape == (6, 3)
    assert DeterministicEncoder(body, 3)(x).shape == (6, 3)
    enc = NoiseEncoder(body, 3, noise_dim=4)
    z1, z2 = enc(x), enc(x)
    assert z1.shape == (6, 3) and not torch.allclose(z1, z2)  # implicit: noise makes it stochastic
    assert enc.code(x).shape == (6, 3)


def test_gaussian_encoder_starts_at_the_standard_deviation_asked():
    torch.manual_seed(0)
    enc, x = GaussianEncoder(EncoderBody((2,), "mlp", (64, 64), batchnorm=True), 2), torch.randn(500, 2)
    assert 0.5 < enc(x)[1].mul(0.5).exp().median() < 2  # the random start: about the prior's spread
    enc.start_std(0.1)
    assert 0.07 < enc(x)[1].mul(0.5).exp().median() < 0.14
    with pytest.raises(ValueError, match="must be positive"):
        enc.start_std(0.0)


@pytest.mark.parametrize("kind,lo,hi", [("bernoulli", 0, 1), ("gaussian", 0, 1), ("tanh", -1, 1)])
def test_decoder_means_in_output_range(kind, lo, hi):
    dec = make_decoder(kind, DecoderBody(3, (1, 28, 28), "mlp", (16,)))
    m = dec.mean(10 * torch.randn(7, 3))
    assert m.shape == (7, 1, 28, 28) and m.min() >= lo and m.max() <= hi
    assert dec.output_range == (lo, hi)


def test_critics_score_shapes():
    x, z = torch.rand(5, 1, 28, 28), torch.randn(5, 3)
    assert XCritic(EncoderBody((1, 28, 28), "conv", (8, 16))).forward(x).shape == (5,)
    assert ZCritic(3, (16,)).forward(z).shape == (5,)
    assert XZCritic(EncoderBody((1, 28, 28), "mlp", (16,)), 3, (8,), (8,), spectral_norm=True)(x, z).shape == (5,)


def test_packed_joint_critic_scores_m_pairs_side_by_side():
    """PacGAN packing: one score per m consecutive pairs, from their features concatenated in order."""
    critic = XZCritic(EncoderBody((2,), "mlp", (4,)), 2, (3,), (8,), pack=2)
    assert critic.joint[1][0].in_features == 2 * (4 + 3)
    x, z = torch.randn(6, 2), torch.randn(6, 2)
    f, h = critic.body(x), critic.z_net(z)
    pairs = torch.cat([f, h], dim=1)
    packs = torch.cat([pairs[0::2], pairs[1::2]], dim=1)  # pack k = (pair 2k, pair 2k + 1)
    assert torch.allclose(critic(x, z), critic.joint(packs).squeeze(1))
    swapped = torch.cat([pairs[1::2], pairs[0::2]], dim=1)  # the pairs' order inside a pack is seen
    assert not torch.allclose(critic(x, z), critic.joint(swapped).squeeze(1))
    unary = UnaryJointCritic(EncoderBody((2,), "mlp", (4,)), 2, (3,), (8,), pack=3)
    assert [s.shape for s in unary(x, z)] == [(6,), (6,), (2,)]
    with pytest.raises(ValueError, match="batch of 5 pairs is not a multiple of 2"):
        critic(x[:5], z[:5])
    with pytest.raises(ValueError, match="pack must be a positive"):
        XZCritic(EncoderBody((2,), "mlp", (4,)), 2, (3,), (8,), pack=0)


def test_joint_critic_scores_both_joints_in_one_pass_unless_it_has_batch_norm():
    """score_joints gives each joint's own scores: one pass over both batches where that changes nothing, separate
    passes where batch norm would mix the joints' statistics or the batches do not split into whole packs."""
    torch.manual_seed(0)
    q, p = (torch.randn(8, 2), torch.randn(8, 2)), (torch.randn(8, 2), torch.randn(8, 2))
    for critic in (XZCritic(EncoderBody((2,), "mlp", (4,)), 2, (3,), (8,), pack=4),
                   UnaryJointCritic(EncoderBody((2,), "mlp", (4,)), 2, (3,), (8,), pack=2)):
        assert not critic.batchnorm
        for got, want in zip(critic.score_joints(q, p), (critic(*q), critic(*p))):
            got, want = (got, want) if isinstance(want, tuple) else ((got,), (want,))  # the unary critic's 3 scores
            assert len(got) == len(want) and all(torch.allclose(g, w, atol=1e-6) for g, w in zip(got, want))
    bn = XZCritic(EncoderBody((2,), "mlp", (4,), batchnorm=True), 2, (3,), (8,)).train()
    assert bn.batchnorm
    s_q, s_p = bn.score_joints(q, p)
    assert torch.allclose(s_q, bn(*q)) and torch.allclose(s_p, bn(*p))
    joint = bn(torch.cat([q[0], p[0]]), torch.cat([q[1], p[1]]))  # what one pass would have given
    assert not torch.allclose(s_q, joint[:8])
    with pytest.raises(ValueError, match="batch of 6 pairs is not a multiple of 4"):
        XZCritic(EncoderBody((2,), "mlp", (4,)), 2, (3,), (8,), pack=4).score_joints(
            (q[0][:6], q[1][:6]), (p[0][:6], p[1][:6]))


def test_maxout_layers_take_the_largest_of_their_pieces():
    layer = Maxout(3, 4, pieces=5)
    x = torch.randn(6, 3)
    pre = layer.linear(x).reshape(6, 4, 5)  # unit j's pieces are outputs 5j .. 5j + 4
    assert torch.equal(layer(x), pre.max(dim=2).values)
    net = mlp([3, 8, 8, 1], "maxout5", dropout=0.5)
    assert [type(m).__name__ for m in net] == ["Maxout", "Dropout", "Maxout", "Dropout", "Linear"]
    assert net(x).shape == (6, 1)
    with pytest.raises(ValueError, match="at least 2 pieces"):
        Maxout(3, 4, pieces=1)
    with pytest.raises(ValueError, match="no batch norm"):
        mlp([3, 8, 1], "maxout5", batchnorm=True)
    with pytest.raises(ValueError, match="maxout<pieces>"):
        EncoderBody((1, 28, 28), "conv", (8, 16), act="maxout5")


def test_joint_critic_on_the_raw_pair():
    """The ALI and PacGAN toy critic: no x-body, no z-branch, the joint head reads cat(x, z)."""
    critic = XZCritic(EncoderBody((2,), "mlp", ()), 2, (), (8, 8), act="maxout5")
    assert critic.body.out_features == 2 and not list(critic.body.parameters()) and not list(critic.z_net.parameters())
    assert critic.joint[1][0].linear.in_features == 4
    x, z = torch.randn(5, 2), torch.randn(5, 2)
    assert torch.equal(critic(x, z), critic.joint(torch.cat([x, z], dim=1)).squeeze(1))
    with pytest.raises(ValueError, match="arch 'conv' needs at least one layer width"):
        EncoderBody((1, 28, 28), "conv", ())


def test_standard_normal_and_uniform_priors():
    p = StandardNormalPrior(4)
    z = p.sample(100_000)
    assert z.shape == (100_000, 4) and abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    assert torch.allclose(p.log_prob(torch.zeros(1, 4)), torch.tensor([-2 * math.log(2 * math.pi)]))
    u = UniformPrior(2, -1, 1)
    s = u.sample(1000)
    assert s.min() >= -1 and s.max() <= 1
    assert u.log_prob(torch.tensor([[0.0, 0.5], [2.0, 0.0]])).tolist() == pytest.approx([-math.log(4), -math.inf])


def test_mixture_prior_density_posterior_and_reparameterised_samples():
    p = GaussianMixturePrior(2, n_components=3, sigma0=0.1)
    # the log density integrates to ~1 on a grid
    g = torch.linspace(-8, 8, 401)
    grid = torch.cartesian_prod(g, g)
    mass = p.log_prob(grid).exp().sum() * (g[1] - g[0]) ** 2
    assert abs(mass.item() - 1) < 1e-2
    post = p.posterior(p.means.detach())
    assert torch.allclose(post.sum(1), torch.ones(3)) and (post.argmax(1) == torch.arange(3)).all()
    z = p.sample(16)
    z.sum().backward()  # samples carry gradients to the means and scales
    assert p.means.grad is not None and p.log_var.grad is not None


def test_mixture_prior_split_reseeds_a_component_at_one_half_of_another():
    p = GaussianMixturePrior(3, n_components=3)
    with torch.no_grad():
        p.log_var[0] = torch.tensor([0.5, -0.5, 1.0])
    g = torch.Generator().manual_seed(0)
    halves = torch.tensor([[4.0, 0, 0], [-4.0, 1, 0]])  # two blobs, the first 30 codes nearer the first
    codes = torch.cat([halves[0] + 0.3 * torch.randn(30, 3, generator=g), halves[1] + 0.3 * torch.randn(50, 3, generator=g)])
    other = p.means[1].detach().clone()
    p.split(0, 2, codes)
    found = sorted(p.means[[0, 2]].detach().tolist())
    expected = sorted([codes[:30].mean(0).tolist(), codes[30:].mean(0).tolist()])
    assert torch.allclose(torch.tensor(found), torch.tensor(expected), atol=1e-5)
    assert torch.equal(p.log_var[2], p.log_var[0]) and torch.equal(p.means[1], other)  # the third untouched
    with pytest.raises(ValueError, match="at least 2 codes, got 1"):
        p.split(0, 2, codes[:1])
    with pytest.raises(ValueError, match="all alike"):
        p.split(0, 2, torch.ones(5, 3))


def _moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per image (B, 1, H, W): mass, centre of mass (B, 2) as (row, col), orientation of the principal axis in degrees."""
    h, w = x.shape[-2:]
    rows, cols = torch.meshgrid(torch.arange(h, dtype=x.dtype), torch.arange(w, dtype=x.dtype), indexing="ij")
    m = x[:, 0].sum((1, 2))
    r, c = (x[:, 0] * rows).sum((1, 2)) / m, (x[:, 0] * cols).sum((1, 2)) / m
    dr, dc = rows - r[:, None, None], cols - c[:, None, None]
    mu_rr, mu_cc, mu_rc = ((x[:, 0] * d).sum((1, 2)) for d in (dr * dr, dc * dc, dr * dc))
    return m, torch.stack([r, c], 1), torch.rad2deg(0.5 * torch.atan2(2 * mu_rc, mu_cc - mu_rr))


def test_random_rotate_shift_rotates_and_shifts_within_the_ranges():
    bar = torch.zeros(64, 1, 28, 28)
    bar[:, :, 13:15, 6:22] = 1  # a horizontal bar about the centre: orientation 0 degrees
    gen = torch.Generator().manual_seed(0)
    assert torch.allclose(random_rotate_shift(bar, 0, 0), bar, atol=1e-6)
    mass, centre, angle = _moments(random_rotate_shift(bar, 30, 0, generator=gen))
    assert torch.allclose(mass, bar[0].sum().expand(64), rtol=0.02)  # nothing leaves the image
    assert (centre - 13.5).abs().max() < 0.1 and angle.abs().max() <= 30.5 and angle.abs().max() > 20
    assert angle.min() < -5 and angle.max() > 5  # both directions
    _, centre, angle = _moments(random_rotate_shift(bar, 0, 3, generator=gen))
    assert angle.abs().max() < 0.5 and (centre - 13.5).abs().max() <= 3.05 and (centre - 13.5).abs().max() > 2
    x = torch.rand(2, 1, 28, 28, requires_grad=True)
    random_rotate_shift(x, 20, 2).sum().backward()
    assert x.grad.abs().sum() > 0  # differentiable in the images


def test_random_rotate_shift_refuses_bad_input():
    with pytest.raises(ValueError, match="takes images"):
        random_rotate_shift(torch.rand(4, 784), 10)
    with pytest.raises(ValueError, match="must be >= 0"):
        random_rotate_shift(torch.rand(4, 1, 28, 28), -10)
    with pytest.raises(ValueError, match="rotations are for square images"):
        random_rotate_shift(torch.rand(4, 1, 28, 32), 10)


def test_random_contrast_dims_the_object_against_its_background_in_any_pixel_range():
    square = torch.zeros(256, 1, 28, 28)
    square[:, :, 10:18, 10:18] = 1
    gen = torch.Generator().manual_seed(0)
    for low, high in ((0.0, 1.0), (-1.0, 1.0)):  # [0, 1] and tanh's [-1, 1] pixels
        x = low + (high - low) * square
        y = random_contrast(x, 0.4, generator=gen)
        assert torch.equal(y[:, :, 0], x[:, :, 0]) and torch.equal(y[:, :, :, :10], x[:, :, :, :10])  # background
        a = (y[:, 0, 14, 14] - low) / (high - low)  # the scale each image drew
        assert a.min() >= 0.6 - 1e-6 and a.max() <= 1 + 1e-6 and a.min() < 0.65 and a.max() > 0.95
        assert torch.allclose(y[:, :, 10:18, 10:18], low + (high - low) * a[:, None, None, None].expand(-1, 1, 8, 8))
    assert torch.equal(random_contrast(square, 0.0), square)
    x = torch.rand(2, 1, 28, 28, requires_grad=True)
    random_contrast(x, 0.5).sum().backward()
    assert x.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"fraction in \[0, 1\)"):
        random_contrast(square, 1.0)
    with pytest.raises(ValueError, match="takes images"):
        random_contrast(torch.rand(4, 784), 0.5)


def test_random_view_rotates_shifts_and_dims_only_what_it_is_asked_to(monkeypatch):
    import gimzoo.nets.transforms as transforms_module

    calls = []
    monkeypatch.setattr(transforms_module, "random_rotate_shift", lambda x, d, s: calls.append(("turn", d, s)) or x + 1)
    monkeypatch.setattr(transforms_module, "random_contrast", lambda x, c: calls.append(("dim", c)) or 2 * x)
    x = torch.zeros(2, 1, 28, 28)
    assert not RandomView(0, 0, (1, 28, 28)).active and RandomView(0, 0, (1, 28, 28))(x) is x
    assert torch.equal(RandomView(0, 0, (1, 28, 28), contrast=0.3)(x), 2 * x) and calls == [("dim", 0.3)]
    calls.clear()
    assert torch.equal(RandomView(20, 2, (1, 28, 28), contrast=0.3)(x), 2 * (x + 1))  # turned, then dimmed
    assert calls == [("turn", 20, 2), ("dim", 0.3)]
    with pytest.raises(ValueError, match=r"q_contrast is a fraction in \[0, 1\)"):
        RandomView(0, 0, (1, 28, 28), contrast=1.5)
    with pytest.raises(ValueError, match="transform images"):
        RandomView(0, 0, (2,), contrast=0.3)
