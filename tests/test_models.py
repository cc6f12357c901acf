"""Every registered model: one training step reaches every parameter; the public API's shapes and ranges."""
import inspect
import re

import lightning as L
import pytest
import torch

import gimzoo
from gimzoo.data import RandomImages
from gimzoo.models import GenerativeInferenceModel, SingleOptimizerModel, TwoPlayerModel
from gimzoo.registry import get_model_entry

MODELS = gimzoo.list_models()


def one_step_trainer(steps: int = 1) -> L.Trainer:
    return L.Trainer(max_epochs=1, limit_train_batches=steps, limit_val_batches=0, logger=False,
                     enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                     accelerator="cpu", devices=1)


def hinge_head_bias_at_init(name: str, param_name: str, p: torch.Tensor) -> bool:
    """A hinge critic's output bias gets d/db [E relu(1 - s_q) + E relu(1 + s_p)] = -1 + 1 = 0 while every
    score is inside the margin, as at initialisation: no update is the right answer there."""
    return name in ("bigbigan", "mpcc") and param_name.startswith("critic.") and param_name.endswith("bias") and not p.grad.any()


@pytest.mark.parametrize("name", MODELS)
def test_one_training_step_gives_every_parameter_a_gradient(name):
    model = gimzoo.create(name)
    assert isinstance(model, (SingleOptimizerModel, TwoPlayerModel))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    steps = getattr(model, "critic_steps", 1)
    data = RandomImages(data_shape=model.data_shape, n_train=16 * steps + 16, batch_size=16, val_size=16)
    one_step_trainer(steps).fit(model, datamodule=data)
    for n, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, f"{name}: {n} got no gradient"
            assert torch.isfinite(p.grad).all(), f"{name}: {n} has a non-finite gradient"
            if hinge_head_bias_at_init(name, n, p):
                continue
            assert not torch.equal(p.detach(), before[n]), f"{name}: {n} was not updated"


@pytest.mark.parametrize("name", MODELS)
def test_public_api_shapes_and_ranges(name):
    model = gimzoo.create(name).eval()
    x = torch.rand(5, *model.data_shape)
    with torch.no_grad():
        z = model.encode(x)
        out = {"decode": model.decode(z), "sample": model.sample(7), "reconstruct": model.reconstruct(x)}
    assert z.shape == (5, model.prior.latent_dim)
    for what, v in out.items():
        assert v.shape[1:] == model.data_shape, what
        assert v.min() >= 0 and v.max() <= 1, f"{what} leaves [0, 1]"
    assert out["sample"].shape[0] == 7


BAD_ARGUMENTS = [("latent_dim", 0), ("latent_dim", -3), ("noise_dim", 0), ("n_categories", 0), ("n_clusters", -1),
                 ("n_continuous", -1), ("n_moment_samples", 0), ("critic_steps", 0), ("lr", -1.0), ("lr", 0.0),
                 ("lr_critic", 0.0), ("lr_prior", -1e-3), ("hidden", [0]), ("critic_hidden", [16, -1]),
                 ("encoder_hidden", [8, 0]), ("fc", [-5])]


@pytest.mark.parametrize("name", MODELS)
def test_bad_arguments_and_inputs_are_refused_clearly(name):
    """Construction names the bad argument; encode/decode/reconstruct cast float16, bfloat16 and float64 and refuse
    NaN and infinity; sample(n < 0) and cluster() without a discrete code are refused."""
    params = inspect.signature(get_model_entry(name).cls.__init__).parameters
    tried = 0
    for arg, bad in BAD_ARGUMENTS:
        if arg in params:
            tried += 1
            with pytest.raises(ValueError, match=rf"{arg}\b.* got {re.escape(repr(bad))}"):
                gimzoo.create(name, **{arg: bad})
    assert tried >= 4  # every model has a latent size, widths and a learning rate

    model = gimzoo.create(name).eval()
    x = torch.rand(3, *model.data_shape)
    with torch.no_grad():
        torch.manual_seed(1)
        z, recon = model.encode(x), model.reconstruct(x)
        for dtype, tol in ((torch.float64, 0.0), (torch.float16, 0.05), (torch.bfloat16, 0.1)):
            torch.manual_seed(1)
            z_cast, recon_cast = model.encode(x.to(dtype)), model.reconstruct(x.to(dtype))
            assert z_cast.dtype == recon_cast.dtype == torch.float32, dtype
            assert torch.allclose(z_cast, z, atol=tol) and torch.allclose(recon_cast, recon, atol=tol), dtype
            assert model.decode(z.to(dtype)).dtype == torch.float32
    for bad in (float("nan"), float("inf")):
        x_bad = x.clone()
        x_bad.view(-1)[5] = bad
        for fn in (model.encode, model.reconstruct):
            with pytest.raises(ValueError, match=r"x holds NaN or infinite values \(1 of"):
                fn(x_bad)
        with pytest.raises(ValueError, match=r"z holds NaN or infinite values"):
            model.decode(torch.full_like(z, bad))
    with pytest.raises(ValueError, match=r"integer >= 0, got -1"):
        model.sample(-1)
    assert model.sample(0).shape == (0, *model.data_shape)
    if model.n_clusters is None:
        for fn in (model.cluster, model.sample_cluster):
            with pytest.raises(TypeError, match=rf"{type(model).__name__} has no discrete code"):
                fn(torch.zeros(2, dtype=torch.long) if fn is model.sample_cluster else x)
    else:
        y = model.cluster(x.double())
        assert y.shape == (3,) and y.dtype == torch.long and 0 <= y.min() and y.max() < model.n_clusters


def test_api_rejects_bad_input_with_the_expected_shape():
    model = gimzoo.create("vae")
    with pytest.raises(ValueError, match=r"expected x of shape \(B, 1, 28, 28\), got \(2, 3, 32, 32\)"):
        model.encode(torch.rand(2, 3, 32, 32))
    with pytest.raises(ValueError, match=r"pixels in \[0, 1\]"):
        model.encode(torch.rand(2, 1, 28, 28) * 2 - 1)
    with pytest.raises(ValueError, match=r"expected z of shape \(B, 20\)"):
        model.decode(torch.randn(2, 8))


def test_vae_loss_is_the_negative_elbo_and_beta_weighs_the_kl():
    x = torch.rand(8, 1, 28, 28)
    vae, bvae = gimzoo.create("vae"), gimzoo.create("beta-vae")
    torch.manual_seed(0)
    t = vae.terms(x)
    assert torch.allclose(vae.loss(t), t["nll"] + t["kl"])
    assert torch.allclose(vae.monitors(t)["neg_elbo"], t["nll"] + t["kl"])
    tb = bvae.terms(x)
    assert torch.allclose(bvae.loss(tb), tb["nll"] + 4.0 * tb["kl"])


def test_models_follow_the_datamodule_shape():
    model = gimzoo.create("vae", data_shape=(3, 32, 32), arch="conv", hidden=(8, 16, 32), likelihood="gaussian")
    assert model.pixel_range == (0.0, 1.0) and model.reconstruct(torch.rand(3, 3, 32, 32)).shape == (3, 3, 32, 32)
    toy = gimzoo.create("vae", data_shape=(2,), hidden=(16,), latent_dim=2, likelihood="gaussian")
    assert toy.pixel_range is None  # 2-D points are not pixels: no squashing, no [0, 1] check
    x = torch.tensor([[-4.0, 4.0], [2.0, -2.0]])
    assert toy.reconstruct(x).shape == (2, 2) and toy.encode(x).shape == (2, 2)


def test_sample_grids_for_images_and_for_2d_points():
    from gimzoo.callbacks import SampleGrids, scatter_image

    grids = SampleGrids(n=16)
    img = grids.images(gimzoo.create("vae").eval(), torch.rand(16, 1, 28, 28))
    assert img["samples"].shape[0] == 3 and img["recon"].shape[1] > img["samples"].shape[1]  # 8 rows vs 4
    toy = gimzoo.create("vae", data_shape=(2,), hidden=(16,), latent_dim=2, likelihood="gaussian").eval()
    pts = grids.images(toy, torch.randn(16, 2))
    assert pts["samples"].shape == (1, 256, 256) and pts["recon"].shape == (1, 256, 512)
    dens = scatter_image(torch.tensor([[0.0, 0.0]] * 5 + [[1.0, 1.0]]), size=8, extent=1.0)
    assert dens.min() == 0 and dens[0, 0, 7] < 1 and dens[0, 7, 0] == 1  # darkest at the densest point


class TinyLatentGAN(TwoPlayerModel):
    """Test double for the two-player base: a deterministic autoencoder whose codes fool a D(z)."""

    def __init__(self, critic_steps: int = 1, lr_decay: str = "constant"):
        super().__init__((1, 4, 4), lr=1e-2, lr_critic=1e-2, betas=(0.5, 0.999), betas_critic=(0.5, 0.9),
                         critic_steps=critic_steps, lr_decay=lr_decay)
        from gimzoo.nets import (DecoderBody, DeterministicEncoder, EncoderBody, StandardNormalPrior, ZCritic,
                                 make_decoder)
        self.encoder = DeterministicEncoder(EncoderBody((1, 4, 4), "mlp", (8,)), 2)
        self.decoder = make_decoder("bernoulli", DecoderBody(2, (1, 4, 4), "mlp", (8,)))
        self.prior, self.critic = StandardNormalPrior(2), ZCritic(2, (8,))
        self.model_calls = 0

    def critic_parameters(self):
        return list(self.critic.parameters())

    def critic_terms(self, x):
        s_real, s_fake = self.critic(self.prior.sample(len(x))), self.critic(self.encoder(x).detach())
        return {"bce": torch.nn.functional.softplus(-s_real).mean() + torch.nn.functional.softplus(s_fake).mean()}

    def model_terms(self, x):
        self.model_calls += 1
        self.learning_rates = getattr(self, "learning_rates", []) + [[o.param_groups[0]["lr"] for o in self.optimizers()]]
        z = self.encoder(x)
        nll = torch.nn.functional.binary_cross_entropy_with_logits(self.decoder(z)[0], x)
        return {"nll": nll, "fool": torch.nn.functional.softplus(-self.critic(z)).mean()}


@pytest.mark.parametrize("critic_steps", [1, 3])
def test_two_player_base_alternates_players(critic_steps):
    model = TinyLatentGAN(critic_steps)
    critic_before = [p.detach().clone() for p in model.critic_parameters()]
    data = RandomImages(data_shape=(1, 4, 4), n_train=200, batch_size=10, val_size=20)
    one_step_trainer(6).fit(model, datamodule=data)
    assert model.model_calls == 6 // critic_steps  # a model step every critic_steps batches
    assert all(not torch.equal(a, p) for a, p in zip(critic_before, model.critic_parameters()))
    opt_model, opt_critic = model.optimizers()
    assert opt_model.param_groups[0]["lr"] == 1e-2 and opt_critic.param_groups[0]["betas"] == (0.5, 0.9)
    ids = {id(p) for p in model.critic_parameters()}
    assert not any(id(p) in ids for p in model.model_parameters())


def test_linear_lr_decay_falls_towards_zero_over_the_run_for_both_players():
    model = TinyLatentGAN(lr_decay="linear")
    data = RandomImages(data_shape=(1, 4, 4), n_train=200, batch_size=10, val_size=20)
    L.Trainer(max_epochs=2, limit_train_batches=5, limit_val_batches=0, logger=False, enable_checkpointing=False,
              enable_progress_bar=False, enable_model_summary=False).fit(model, datamodule=data)
    expected = [1e-2 * (1 - i / 10) for i in range(10) for _ in "mc"]  # batch i of 10 in the run, both players
    assert sum(model.learning_rates, []) == pytest.approx(expected)
    model = TinyLatentGAN(lr_decay="linear")  # max_steps counts both players' steps: 2 per batch here
    L.Trainer(max_steps=10, limit_val_batches=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False).fit(model, datamodule=data)
    assert sum(model.learning_rates, []) == pytest.approx([1e-2 * (1 - i / 5) for i in range(5) for _ in "mc"])
    with pytest.raises(ValueError, match="unknown lr_decay 'cosine'; known: constant, linear"):
        TinyLatentGAN(lr_decay="cosine")


def test_every_model_is_a_generative_inference_model_with_its_registration():
    for name in MODELS:
        entry = get_model_entry(name)
        assert issubclass(entry.cls, GenerativeInferenceModel)
        assert entry.cls.__module__.startswith("gimzoo.models.")


def test_every_term_reaches_the_logger_under_its_own_name(tmp_path):
    import csv

    from lightning.pytorch.loggers import CSVLogger

    model = gimzoo.create("vae", hidden=(16,), latent_dim=2)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=6, log_every_n_steps=2, logger=CSVLogger(tmp_path),
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, datamodule=RandomImages(n_train=256, batch_size=16, val_size=32))
    rows = list(csv.DictReader(open(tmp_path / "lightning_logs" / "version_0" / "metrics.csv")))
    train = [r for r in rows if r.get("train/loss")]
    assert [int(r["step"]) for r in train] == [1, 3, 5]  # every log_every_n_steps, the last batch included
    for r in train:
        assert float(r["train/loss"]) == pytest.approx(float(r["train/nll"]) + float(r["train/kl"]), rel=1e-5)
        assert r["train/neg_elbo"] == r["train/loss"]
    val = [r for r in rows if r.get("val/neg_elbo")]
    assert len(val) == 1 and float(val[0]["val/kl"]) >= 0


@pytest.mark.parametrize("kind,arch,hidden", [("bernoulli", "mlp", (16,)), ("tanh", "conv", (8, 16)),
                                              ("gaussian", "mlp", (16,))])
def test_output_bias_init_starts_the_decoder_at_the_data_mean(kind, arch, hidden):
    from gimzoo.nets import DecoderBody, make_decoder

    dec = make_decoder(kind, DecoderBody(3, (1, 28, 28), arch, hidden))
    for p in dec.body.net.parameters():  # only the bias should speak
        torch.nn.init.zeros_(p)
    lo, hi = dec.output_range
    target = lo + (hi - lo) * torch.rand(1, 28, 28).clamp(0.01, 0.99)
    dec.init_output_bias(target)
    out = dec.mean(torch.randn(4, 3))
    # conv: one bias per channel, the spatial mean of the pre-activations
    expect = target if arch == "mlp" else dec.link(dec.inverse_link(target).mean()).expand_as(target)
    assert torch.allclose(out, expect.expand_as(out), atol=1e-4)


def test_fit_sets_the_output_bias_once_and_not_on_resume():
    model = gimzoo.create("vae", hidden=(16,), latent_dim=2)
    data = RandomImages(n_train=64, batch_size=16, val_size=16)
    trainer = one_step_trainer(0)
    trainer.fit(model, datamodule=data)  # no steps: only on_fit_start ran
    mean = data.split("train")[0].mean(0)
    assert torch.allclose(torch.sigmoid(model.decoder.body.output_layer.bias), mean.flatten().clamp(1e-3, 1 - 1e-3), atol=1e-5)
    off = gimzoo.create("vae", hidden=(16,), latent_dim=2, init_output_bias=False)
    before = off.decoder.body.output_layer.bias.clone()
    one_step_trainer(0).fit(off, datamodule=data)
    assert torch.equal(off.decoder.body.output_layer.bias, before)


@pytest.mark.parametrize("name", MODELS)
def test_hyperparameters_rebuild_the_model(name):
    """Saved hyperparameters are plain values and exactly the class's arguments (checkpoints reload)."""
    model = gimzoo.create(name)
    clone = type(model)(**dict(model.hparams))
    assert dict(clone.hparams) == dict(model.hparams)
    assert [n for n, _ in clone.named_parameters()] == [n for n, _ in model.named_parameters()]


def test_test_metrics_are_the_documented_ones():
    from gimzoo.objectives import mmd

    model = gimzoo.create("wae", hidden=(16,)).eval()
    data = RandomImages(n_train=64, n_test=150, batch_size=16, eval_batch_size=64, val_size=16)
    out = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False).test(model, datamodule=data,
                                                                                               verbose=False)[0]
    x = data.split("test")[0]
    with torch.no_grad():
        assert out["test/recon_mse"] == pytest.approx(((model.reconstruct(x) - x) ** 2).mean().item(), rel=1e-4)
        torch.manual_seed(0)
        zp = model.prior.sample(150)
        assert out["test/mmd_qz_pz"] == pytest.approx(mmd(model.encode(x), zp).item(), rel=1e-4, abs=1e-6)


def test_avb_adaptive_contrast_trains_and_splits_the_kl():
    model = gimzoo.create("avb", hidden=(16,), critic_hidden=(16,), adaptive_contrast=True, n_moment_samples=4)
    data = RandomImages(n_train=64, batch_size=16, val_size=16)
    one_step_trainer(1).fit(model, datamodule=data)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    x = torch.rand(8, 1, 28, 28)
    terms = model.model_terms(x)
    assert set(terms) == {"nll", "kl_est", "log_r_over_p"} and all(v.isfinite() for v in terms.values())
    z, mu, sigma = model.contrast(x)
    assert z.shape == mu.shape == sigma.shape == (8, 8) and (sigma > 0).all()


def test_avb_adaptive_contrast_term_alone_pulls_q_to_the_prior():
    """E_q[log r(z|x) - log p(z)] = KL(r || p) when r has q's moments, so minimising it alone must bring
    q(z|x) to mean 0 and standard deviation 1."""
    torch.manual_seed(0)
    model = gimzoo.create("avb", hidden=(16,), critic_hidden=(16,), adaptive_contrast=True, n_moment_samples=32)
    opt = torch.optim.Adam(model.encoder.parameters(), lr=1e-2)
    x = torch.rand(32, 1, 28, 28)
    for _ in range(300):
        opt.zero_grad()
        model.model_terms(x)["log_r_over_p"].backward()
        opt.step()
    with torch.no_grad():
        zs = model.encoder.rsample_n(x, 2000)
    assert zs.mean(0).abs().mean() < 0.15 and (zs.std(0) - 1).abs().mean() < 0.15


def test_gaussian_nll_with_one_sigma_per_dimension():
    from torch.distributions import Normal

    from gimzoo.objectives import gaussian_nll

    z, mu, log_sigma = torch.randn(5, 3), torch.randn(5, 3), torch.randn(5, 3)
    ref = -Normal(mu, log_sigma.exp()).log_prob(z).sum(1)
    assert torch.allclose(gaussian_nll(z, mu, log_sigma), ref, atol=1e-5)


def test_bigbigan_scores_every_pair_three_times_with_hinge_losses():
    from gimzoo.objectives import hinge_critic_loss, hinge_generator_loss

    model = gimzoo.create("bigbigan", hidden=(16,), critic_hidden=(16,))
    x = torch.rand(6, 1, 28, 28) * 2 - 1
    torch.manual_seed(0)
    (sx_q, sz_q, sxz_q), (sx_p, sz_p, sxz_p) = model._scores(x, detach=True)
    assert all(s.shape == (6,) for s in (sx_q, sz_q, sxz_q, sx_p, sz_p, sxz_p))
    torch.manual_seed(0)
    c = model.critic_terms(x)
    assert set(c) == {"hinge_x", "hinge_z", "hinge_xz"}
    assert torch.allclose(c["hinge_xz"], hinge_critic_loss(sxz_q, sxz_p))
    torch.manual_seed(0)
    m = model.model_terms(x)
    assert set(m) == {"score_x", "score_z", "score_xz"}
    torch.manual_seed(0)
    s_q, s_p = model._scores(x, detach=False)
    assert torch.allclose(m["score_z"], hinge_generator_loss(s_p[1], real=s_q[1]))
    assert model.encoder.__class__.__name__ == "GaussianEncoder" and model.prior.__class__.__name__ == "StandardNormalPrior"


def test_aim_latent_nll_reaches_the_generator_only_when_asked():
    for into, name in ((True, "aim"), (False, "mpcc")):
        model = gimzoo.create(name, hidden=(16,), critic_hidden=(16,))
        terms = model.model_terms(torch.rand(4, 1, 28, 28) * 2 - 1)
        grads = torch.autograd.grad(terms["latent_nll"], list(model.decoder.parameters()), allow_unused=True,
                                    retain_graph=True)
        assert any(g is not None and g.abs().sum() > 0 for g in grads) == into, name
        enc = torch.autograd.grad(terms["latent_nll"], list(model.encoder.parameters()), allow_unused=True)
        assert all(g is not None for g in enc)


@pytest.mark.parametrize("name", ["aim", "mpcc"])
def test_aim_and_mpcc_encoders_read_z_back_from_a_transformed_copy_when_asked(name, monkeypatch):
    import gimzoo.nets.transforms as transforms_module
    from gimzoo.objectives import latent_nll

    calls = []

    def flip(x, degrees, shift):  # a stand-in transform, deterministic
        calls.append((degrees, shift))
        return x.flip(3)

    monkeypatch.setattr(transforms_module, "random_rotate_shift", flip)
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    plain = gimzoo.create(name, hidden=(16,), critic_hidden=(16,), latent_dim=4)
    viewed = gimzoo.create(name, hidden=(16,), critic_hidden=(16,), latent_dim=4, q_rotation=20, q_shift=2)
    viewed.load_state_dict(plain.state_dict())  # the view holds no parameters: the same networks
    for model, transform in ((plain, lambda t: t), (viewed, lambda t: t.flip(3))):
        torch.manual_seed(0)
        terms = model.model_terms(x)
        torch.manual_seed(0)
        z = model.prior.sample(4) if name == "aim" else model.prior.sample(4, y=model.prior.sample_components(4))
        expected = latent_nll(z, *model.encoder(transform(model.decoder.mean(z)))).mean()
        assert torch.allclose(terms["latent_nll"], expected)
    assert calls == [(20, 2)]  # one transformed read, by the model that asked for it
    with pytest.raises(ValueError, match="q_rotation and q_shift are ranges"):
        gimzoo.create(name, hidden=(16,), critic_hidden=(16,), q_shift=-1)
    with pytest.raises(ValueError, match=r"transform images \(C, H, W\), not data of shape \(2,\)"):
        gimzoo.create(name, data_shape=(2,), hidden=(16,), critic_hidden=(16,), q_rotation=10)


@pytest.mark.parametrize("name", ["aim", "mpcc", "infogan"])
def test_q_contrast_reaches_the_encoders_view_and_is_saved(name):
    model = gimzoo.create(name, arch="mlp", hidden=(16,), critic_hidden=(16,), q_rotation=10, q_contrast=0.4)
    assert (model.q_view.degrees, model.q_view.shift, model.q_view.contrast) == (10, 0, 0.4)
    assert model.hparams.q_contrast == 0.4 and model.q_view.active
    with pytest.raises(ValueError, match=r"q_contrast is a fraction in \[0, 1\)"):
        gimzoo.create(name, arch="mlp", hidden=(16,), critic_hidden=(16,), q_contrast=1)


def test_mpcc_cluster_term_asks_generator_and_encoder_to_keep_the_component_readable():
    from gimzoo.objectives import categorical_nll

    plain = gimzoo.create("mpcc", hidden=(16,), critic_hidden=(16,), latent_dim=4)
    model = gimzoo.create("mpcc", hidden=(16,), critic_hidden=(16,), latent_dim=4, cluster_weight=3.0)
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    assert "cluster_nll" not in plain.model_terms(x)  # off by default: the paper's objective, at no cost
    torch.manual_seed(0)
    term = model.model_terms(x)["cluster_nll"]
    torch.manual_seed(0)
    y = model.prior.sample_components(4)
    z = model.prior.sample(4, y=y)
    expected = categorical_nll(model.prior.component_log_prob(model.encoder.code(model.decoder.mean(z))), y).mean()
    assert torch.allclose(term, expected) and model.model_weights()["cluster_nll"] == 3.0
    for net in (model.decoder, model.encoder):
        grads = torch.autograd.grad(term, list(net.parameters()), retain_graph=True, allow_unused=True)
        assert any(g is not None and g.abs().sum() > 0 for g in grads)
    code = torch.randn(4, 4, requires_grad=True)
    fixed = model.prior.component_log_prob(code, fixed=True)
    assert torch.allclose(fixed, model.prior.component_log_prob(code))
    assert torch.autograd.grad(fixed.sum(), [model.prior.means], allow_unused=True) == (None,)  # mixture held fixed
    with pytest.raises(ValueError, match="cluster_weight is a weight >= 0"):
        gimzoo.create("mpcc", hidden=(16,), critic_hidden=(16,), cluster_weight=-1)


def test_mpcc_prior_learns_with_its_own_rate_and_clusters_by_the_posterior():
    from gimzoo.objectives import categorical_nll, gaussian_entropy

    model = gimzoo.create("mpcc", hidden=(16,), critic_hidden=(16,), latent_dim=4, n_clusters=3)
    model_opt, _ = model.configure_optimizers()
    assert [g["lr"] for g in model_opt.param_groups] == [2e-4, 1.6e-3]
    assert {id(p) for p in model_opt.param_groups[1]["params"]} == {id(p) for p in model.prior.parameters()}
    terms = model.model_terms(torch.rand(6, 1, 28, 28) * 2 - 1)
    assert set(terms) == {"fool", "latent_nll", "prior_class", "prior_entropy"}
    assert torch.allclose(terms["prior_entropy"], -gaussian_entropy(model.prior.log_var).mean() / 4)
    for t in ("fool", "prior_class"):  # the prior learns through the reparameterised z and from -log p(y|z)
        assert torch.autograd.grad(terms[t], model.prior.means, retain_graph=True)[0].abs().sum() > 0
    assert torch.autograd.grad(terms["latent_nll"], model.prior.means, retain_graph=True, allow_unused=True)[0] is None
    x = torch.rand(5, 1, 28, 28)
    expected = model.prior.posterior(model.encode(x)).argmax(1)
    assert torch.equal(model.cluster(x), expected) and model.cluster(x).shape == (5,)
    y = torch.tensor([0, 2])
    z = model.prior.means[y].detach()
    assert torch.allclose(categorical_nll(model.prior.component_log_prob(z), y), -model.prior.posterior(z)[[0, 1], y].log())


def test_mpcc_restart_reseeds_an_empty_component_from_the_fullest_and_zeroes_their_moments():
    model = gimzoo.create("mpcc", hidden=(16,), critic_hidden=(16,), latent_dim=2, n_clusters=3, restart_below=0.5)
    with torch.no_grad():
        model.prior.means.copy_(torch.tensor([[0.0, 0.0], [10.0, 0.0], [-10.0, 0.0]]))
        model.prior.log_var.zero_()
    g = torch.Generator().manual_seed(0)
    blob = lambda n, at: torch.tensor(at) + 0.3 * torch.randn(n, 2, generator=g)
    # component 0 holds two groups (80 %), component 1 15 %, component 2 5 % (< 0.5 / 3)
    codes = torch.cat([blob(40, [0.0, 3.0]), blob(40, [0.0, -3.0]), blob(15, [10.0, 0.0]), blob(5, [-10.0, 0.0])])
    opt, _ = model.configure_optimizers()
    model.prior.means.grad = torch.ones_like(model.prior.means)
    model.prior.log_var.grad = torch.ones_like(model.prior.log_var)
    opt.step()
    load = model.restart_component(codes, opt)
    assert load.tolist() == pytest.approx([0.8, 0.15, 0.05])
    means = model.prior.means.detach()
    assert torch.allclose(means[[0, 2]].sort(dim=0).values, torch.stack([codes[40:80].mean(0), codes[:40].mean(0)]).sort(dim=0).values)
    moments = opt.state[model.prior.means]
    assert (moments["exp_avg"][[0, 2]] == 0).all() and (moments["exp_avg"][1] != 0).all()
    assert (moments["exp_avg_sq"][[0, 2]] == 0).all() and (opt.state[model.prior.log_var]["exp_avg_sq"][[0, 2]] == 0).all()
    load = model.restart_component(model.prior.sample(300))  # now every component holds about a third: no change
    assert load.min() > 0.5 / 3 and torch.equal(model.prior.means.detach(), means)
    with pytest.raises(ValueError, match=r"restart_below is a fraction of the even load 1/K in \[0, 1\)"):
        gimzoo.create("mpcc", hidden=(16,), critic_hidden=(16,), restart_below=1.0)


def test_mpcc_checks_the_loads_after_the_epochs_asked_for_on_the_latest_training_images():
    model = gimzoo.create("mpcc", arch="mlp", hidden=(16,), critic_hidden=(16,), latent_dim=2, n_clusters=3,
                          restart_below=0.99, restart_from=2, restart_until=2, critic_steps=1)
    seen = []
    model.restart_component = lambda codes, optimizer: seen.append((model.current_epoch, len(codes))) or torch.ones(3) / 3
    model.RESTART_IMAGES = 25
    data = RandomImages(n_train=200, batch_size=10, val_size=20)
    L.Trainer(max_epochs=3, limit_train_batches=6, limit_val_batches=0, logger=False, enable_checkpointing=False,
              enable_progress_bar=False, enable_model_summary=False).fit(model, datamodule=data)
    assert seen == [(1, 30)]  # after the second epoch only; the last 3 batches: the fewest that hold 25 images
    plain = gimzoo.create("mpcc", arch="mlp", hidden=(16,), critic_hidden=(16,), latent_dim=2, n_clusters=3)
    one_step_trainer(3).fit(plain, datamodule=data)
    assert plain._recent == []  # off by default: nothing kept


def test_infogan_shares_the_critic_body_with_q_and_answers_with_its_code():
    model = gimzoo.create("infogan", arch="mlp", hidden=(32,), critic_hidden=(32,))
    assert model.prior.latent_dim == 74
    critic = {id(p) for p in model.critic_parameters()}
    assert {id(p) for p in model.encoder.parameters()} <= critic
    assert not {id(p) for p in model.decoder.parameters()} & critic
    x = torch.rand(3, 1, 28, 28)
    z = model.encode(x)
    noise, c, u = model.prior.split(z)
    assert z.shape == (3, 74) and (noise == 0).all() and torch.equal(c.argmax(1), model.cluster(x)) and (c.sum(1) == 1).all()
    zp, cats = model.prior.sample_codes(100)
    assert torch.equal(model.prior.split(zp)[1].argmax(1), cats) and zp[:, :62].abs().max() <= 1
    terms = model.critic_terms(torch.rand(4, 1, 28, 28) * 2 - 1)
    assert set(terms) == {"gan", "info_cat", "info_cont"} and model.model_weights() == {"info_cat": 1.0, "info_cont": 1.0}


def test_infogan_noise_estimate_trains_q_only_and_fills_the_code():
    model = gimzoo.create("infogan", arch="mlp", hidden=(32,), critic_hidden=(32,), noise_weight=0.5)
    x = torch.rand(3, 1, 28, 28)
    assert (model.prior.split(model.encode(x))[0] != 0).all()  # the noise estimate, not 0
    terms = model.critic_terms(x * 2 - 1)
    assert set(terms) == {"gan", "info_cat", "info_cont", "info_noise"} and model.critic_weights()["info_noise"] == 0.5
    assert set(model.model_terms(x * 2 - 1)) == {"fool", "info_cat", "info_cont"}  # the generator's loss is the paper's
    terms["info_noise"].backward()
    head = model.encoder.head[-1].weight.grad
    assert head[-62:].abs().sum() > 0 and head[:12].abs().sum() == 0  # only the noise rows of Q's output layer


def test_infogan_official_q_head_and_init():
    """The official code's Q head (a batch-normalised hidden layer) and DCGAN initialisation of G, D and Q."""
    model = gimzoo.create("infogan", arch="mlp", hidden=(32,), critic_hidden=(32,), q_batchnorm=True, weight_init="dcgan")
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in model.encoder.head)
    for net in (model.decoder, model.encoder, model.critic):
        weights = [m.weight for m in net.modules() if isinstance(m, torch.nn.Linear)]
        assert weights and all(abs(w.std() - 0.02) < 0.008 for w in weights)  # default init: 0.05-0.10 for all but the 784-wide layer
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in gimzoo.create("infogan", arch="mlp", hidden=(32,),
                                                                                 critic_hidden=(32,)).encoder.head)


def test_infogan_lambda_moves_from_lam_start_to_lam_over_the_ramp(monkeypatch):
    model = gimzoo.create("infogan", arch="mlp", hidden=(16,), critic_hidden=(16,), lam=1.0, lam_start=10.0, lam_ramp=0.5)
    assert model.current_lam() == 1.0  # no trainer attached: the final lambda
    monkeypatch.setattr(model, "_trainer", object())
    for progress, lam in [(0.0, 10.0), (0.25, 5.5), (0.5, 1.0), (0.9, 1.0)]:
        monkeypatch.setattr(model, "run_progress", lambda p=progress: p)
        assert model.current_lam() == pytest.approx(lam) and model.model_weights()["info_cat"] == pytest.approx(lam)
        assert model.critic_weights()["info_cont"] == pytest.approx(lam)
    with pytest.raises(ValueError, match="lam_ramp is a fraction of the run"):
        gimzoo.create("infogan", arch="mlp", hidden=(16,), critic_hidden=(16,), lam_start=10.0, lam_ramp=0.0)


def test_infogan_q_reads_the_class_from_a_transformed_copy_and_the_continuous_codes_from_the_image(monkeypatch):
    import gimzoo.nets.transforms as transforms_module
    from gimzoo.objectives import categorical_nll, latent_nll

    model = gimzoo.create("infogan", arch="mlp", hidden=(32,), critic_hidden=(32,), q_rotation=15, q_shift=2)
    calls = []

    def flip(x, degrees, shift):  # a stand-in transform, deterministic
        calls.append((x, degrees, shift))
        return x.flip(3)

    monkeypatch.setattr(transforms_module, "random_rotate_shift", flip)
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    for step in (model.model_terms, model.critic_terms):
        torch.manual_seed(0)
        terms = step(x)
        torch.manual_seed(0)
        z, c = model.prior.sample_codes(4)
        fake, degrees, shift = calls.pop()
        assert (degrees, shift) == (15, 2) and torch.allclose(fake, model.decoder.mean(z))
        logits, u_mean, _ = model.encoder(fake)
        assert torch.allclose(terms["info_cat"], categorical_nll(model.encoder(fake.flip(3))[0], c).mean())
        assert not torch.allclose(terms["info_cat"], categorical_nll(logits, c).mean())
        u = model.prior.split(z)[2]
        assert torch.allclose(terms["info_cont"], latent_nll(u, u_mean, torch.zeros_like(u_mean)).mean())
    assert not calls
    with pytest.raises(ValueError, match="q_rotation and q_shift are ranges"):
        gimzoo.create("infogan", arch="mlp", hidden=(16,), critic_hidden=(16,), q_rotation=-5)
    with pytest.raises(ValueError, match=r"transform images \(C, H, W\), not data of shape \(2,\)"):
        gimzoo.create("infogan", data_shape=(2,), arch="mlp", hidden=(16,), critic_hidden=(16,), q_shift=1)


def test_infogan_noise_scale_narrows_only_the_noise():
    model = gimzoo.create("infogan", arch="mlp", hidden=(32,), critic_hidden=(32,), noise_scale=0.1)
    noise, c, u = model.prior.split(model.prior.sample(2000))
    assert 0.09 < noise.abs().max() <= 0.1 and 0.95 < u.abs().max() <= 1 and (c.sum(1) == 1).all()
    with pytest.raises(ValueError, match="noise_scale must be positive"):
        gimzoo.create("infogan", arch="mlp", hidden=(32,), critic_hidden=(32,), noise_scale=0.0)


@pytest.mark.parametrize("name", ["vae", "bigan"])
def test_a_diverging_loss_stops_training_naming_the_term_and_step(name, tmp_path):
    from gimzoo.models.base import DivergenceError

    model = gimzoo.create(name, hidden=(16,), **({"critic_hidden": (16,)} if name == "bigan" else {}))
    method = "terms" if name == "vae" else "model_terms"
    healthy = getattr(model, method)

    def poisoned(x):
        out = healthy(x)
        if model.global_step >= 3:
            key = next(iter(out))
            out[key] = out[key] * float("nan")
        return out

    setattr(model, method, poisoned)
    ckpt = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path, every_n_train_steps=1, save_top_k=-1)
    trainer = L.Trainer(max_epochs=1, logger=False, callbacks=[ckpt], enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu")
    with pytest.raises(DivergenceError, match=r"model's loss diverged at global step \d+: \w+ = nan"):
        trainer.fit(model, datamodule=RandomImages(n_train=200, batch_size=16, val_size=16))
    saved = sorted(tmp_path.glob("*.ckpt"))
    assert saved, "the checkpoints from before the divergence are kept"
    state = torch.load(saved[-1], map_location="cpu", weights_only=True)["state_dict"]
    assert all(torch.isfinite(v).all() for v in state.values())


@pytest.mark.parametrize("name", MODELS)
def test_every_model_trains_in_bf16_mixed_precision(name):
    model = gimzoo.create(name)
    steps = getattr(model, "critic_steps", 1)
    trainer = L.Trainer(max_epochs=1, limit_train_batches=steps, limit_val_batches=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        accelerator="cpu", devices=1, precision="bf16-mixed")
    data = RandomImages(data_shape=model.data_shape, n_train=16 * steps + 16, batch_size=16, val_size=16)
    trainer.fit(model, datamodule=data)
    assert trainer.state.finished
    assert all(torch.isfinite(p).all() and p.dtype == torch.float32 for p in model.parameters())  # fp32 master weights
    with torch.no_grad():
        assert model.sample(4).dtype == torch.float32  # sampling outside autocast stays fp32


def test_code_map_projects_on_the_principal_axes_and_colours_by_label():
    from gimzoo.callbacks.grids import PALETTE, code_map, pca_2d

    g = torch.Generator().manual_seed(0)
    z = torch.randn(300, 5, generator=g) * torch.tensor([10.0, 0.1, 0.1, 3.0, 0.1])
    p = pca_2d(z)
    assert p.shape == (300, 2) and p[:, 0].var() > 50 and p[:, 1].var() > 5  # the two large axes, largest first
    assert pca_2d(torch.randn(10, 1)).shape == (10, 2)
    img = code_map(torch.tensor([[-1.0, 0.0], [1.0, 0.0]]), torch.tensor([0, 3]), size=64)
    colours = {tuple(img[:, i, j].tolist()) for i in range(64) for j in range(64)} - {(1.0, 1.0, 1.0)}
    assert colours == {tuple(PALETTE[0].tolist()), tuple(PALETTE[3].tolist())}


@pytest.mark.parametrize("name", ["bigbigan", "mpcc"])
def test_critic_spectral_norm_option(name):
    model = gimzoo.create(name, hidden=(16,), critic_hidden=(16,), critic_spectral_norm=True)
    linear = [m for m in model.critic.modules() if isinstance(m, torch.nn.Linear)]
    assert linear and all(hasattr(m, "parametrizations") for m in linear)
    steps = model.critic_steps
    data = RandomImages(n_train=16 * steps + 16, batch_size=16, val_size=16)
    one_step_trainer(steps).fit(model, datamodule=data)
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("batchnorm,expected", [(None, 3), (False, 0), (True, 3)])
def test_aae_batchnorm_option_defaults_to_the_conv_bodies_choice(batchnorm, expected):
    """DCGAN-style conv bodies normalise every hidden layer but the encoder's first (here one in the encoder, two in the decoder)."""
    model = gimzoo.create("aae", arch="conv", hidden=(8, 16), batchnorm=batchnorm)
    assert sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()) == expected


@pytest.mark.parametrize("name", ["bigan", "ali"])
def test_encoder_hidden_sizes_the_encoder_alone(name):
    """The toy encoders of ALI and PacGAN are shallower than their generators: ``encoder_hidden`` gives the encoder
    body widths of its own; by default it mirrors the generator's."""
    def widths(body):
        return [m.out_features for m in body.modules() if isinstance(m, torch.nn.Linear)]

    mirrored = gimzoo.create(name, data_shape=(2,), hidden=(8, 8, 8), generator="linear")
    own = gimzoo.create(name, data_shape=(2,), hidden=(8, 8, 8), encoder_hidden=(6,), generator="linear")
    assert widths(mirrored.encoder)[:3] == widths(mirrored.decoder)[:3] == [8, 8, 8]
    assert widths(own.encoder)[0] == 6 and 8 not in widths(own.encoder) and widths(own.decoder)[:3] == [8, 8, 8]
    one_step_trainer().fit(own, datamodule=gimzoo.data.Grid25(n_train=64, batch_size=16, val_size=16))
    assert own.encode(torch.zeros(3, 2)).shape == (3, own.prior.latent_dim)


def test_ali_encoder_start_std_sets_q_z_given_x_spread_at_the_start():
    model = gimzoo.create("ali", data_shape=(2,), latent_dim=2, hidden=(16, 16), generator="linear",
                          batchnorm=True, encoder_start_std=0.05)
    model.eval()
    _, logvar = model.encoder(torch.randn(200, 2))
    assert 0.03 < logvar.mul(0.5).exp().median() < 0.08
    with pytest.raises(ValueError, match="for the gaussian encoder"):
        gimzoo.create("bigan", encoder_start_std=0.05)


def test_bigan_with_the_pacgan_toy_critic_trains():
    """critic_branches=False and critic_activation="maxout5": the joint head is maxout layers on cat(x, z)."""
    model = gimzoo.create("ali", data_shape=(2,), latent_dim=2, hidden=(8, 8), generator="linear",
                          critic_hidden=(6, 6), critic_branches=False, critic_activation="maxout5")
    maxouts = [m for m in model.critic.modules() if type(m).__name__ == "Maxout"]
    assert [m.linear.in_features for m in maxouts] == [4, 6] and [m.linear.out_features for m in maxouts] == [30, 30]
    before = [p.detach().clone() for p in model.critic.parameters()]
    one_step_trainer().fit(model, datamodule=gimzoo.data.Grid25(n_train=64, batch_size=16, val_size=16))
    assert all(not torch.equal(a, b) for a, b in zip(before, model.critic.parameters()))


def test_bigan_with_a_packed_critic_scores_packs_and_trains():
    model = gimzoo.create("bigan", data_shape=(2,), latent_dim=2, hidden=(8, 8), generator="linear",
                          critic_hidden=(6, 6), critic_pack=4)
    s_q, s_p = model._scores(torch.randn(16, 2), detach=True)
    assert s_q.shape == s_p.shape == (4,)
    before = [p.detach().clone() for p in model.critic.parameters()]
    one_step_trainer().fit(model, datamodule=gimzoo.data.Grid25(n_train=64, batch_size=16, val_size=16))
    assert all(not torch.equal(a, b) for a, b in zip(before, model.critic.parameters()))


@pytest.mark.parametrize("name", MODELS)
def test_every_model_trains_a_step_on_32_and_64_pixel_colour_images(name):
    """Networks for any size: the DCGAN and residual bodies take their depth from the image (3x32x32: three stages,
    3x64x64: four), in every family."""
    params = inspect.signature(get_model_entry(name).cls.__init__).parameters
    for shape in ((3, 32, 32), (3, 64, 64)):
        for arch in ("dcgan", "resnet"):
            small = {k: v for k, v in (("hidden", (8,)), ("critic_hidden", (8,)), ("arch", arch)) if k in params}
            model = gimzoo.create(name, data_shape=shape, **small)
            steps = getattr(model, "critic_steps", 1)
            data = RandomImages(data_shape=shape, n_train=4 * steps + 4, batch_size=4, val_size=4)
            before = {n: p.detach().clone() for n, p in model.named_parameters()}
            one_step_trainer(steps).fit(model, datamodule=data)
            changed = [n for n, p in model.named_parameters() if not torch.equal(p.detach(), before[n])]
            assert changed, f"{name} {arch} {shape}: no parameter was updated"
            with torch.no_grad():
                x = torch.rand(2, *shape)
                assert model.eval().reconstruct(x).shape == x.shape and model.sample(3).shape == (3, *shape)
