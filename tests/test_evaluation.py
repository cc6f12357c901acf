"""The evaluation suite: scorecard estimators, n/a where a density is missing, the periodic callback."""
import math

import lightning as L
import pytest
import torch

import gimzoo
from gimzoo.callbacks import PeriodicEvaluation
from gimzoo.data import Grid25, RandomImages
from gimzoo.metrics.evaluate import evaluate
from gimzoo.metrics.likelihood import gaussian_log_density, iwae_nll, pairwise_gaussian_log_density, scorecard
from gimzoo.objectives import gaussian_kl


def test_pairwise_density_equals_the_direct_one():
    z, mu, logvar = torch.randn(5, 3), torch.randn(4, 3), torch.randn(4, 3)
    direct = torch.stack([gaussian_log_density(z, mu[j], logvar[j]) for j in range(4)], dim=1)
    assert torch.allclose(pairwise_gaussian_log_density(z, mu, logvar), direct, atol=1e-4)


def test_vae_scorecard_is_consistent_with_the_closed_forms():
    model = gimzoo.create("vae", hidden=(32,), latent_dim=4).eval()
    x = torch.rand(400, 1, 28, 28)
    torch.manual_seed(0)
    card = scorecard(model, x, n_z=8)
    with torch.no_grad():
        mu, logvar = model.encoder(x)
    analytic = float(gaussian_kl(mu, logvar).mean())
    assert card["kl_qzx_pz"] == pytest.approx(analytic, rel=0.05, abs=0.05)
    assert 0 <= card["mi_q"] <= math.log(400) + 1e-6
    assert card["kl_qz_pz"] == pytest.approx(card["kl_qzx_pz"] - card["mi_q"])
    assert card["latent_nll_p"] is not None and card["rec_nll"] > 0
    # the IWAE bound is tighter than the ELBO (up to Monte-Carlo noise) and k = 1 is the ELBO itself
    torch.manual_seed(0)
    iw = float(iwae_nll(model, x, k=64).mean())
    assert iw <= card["rec_nll"] + analytic + 0.5


def test_terms_without_a_density_are_none_never_a_number():
    wae = scorecard(gimzoo.create("wae", hidden=(16,)).eval(), torch.rand(50, 1, 28, 28))
    assert wae["rec_nll"] is not None  # a Bernoulli decoder on a point-mass encoder
    assert wae["kl_qzx_pz"] is None and wae["mi_q"] is None and wae["latent_nll_p"] is None
    bigan = gimzoo.create("bigan", hidden=(16,), critic_hidden=(16,)).eval()
    assert all(v is None for v in scorecard(bigan, torch.rand(50, 1, 28, 28) * 2 - 1).values())
    assert iwae_nll(bigan, torch.rand(5, 1, 28, 28)) is None
    ali = gimzoo.create("ali", hidden=(16,), critic_hidden=(16,)).eval()
    card = scorecard(ali, torch.rand(50, 1, 28, 28) * 2 - 1)
    assert card["rec_nll"] is None and card["kl_qzx_pz"] is not None and card["latent_nll_p"] is not None


def test_evaluate_on_toy_data_reports_mode_coverage():
    model = gimzoo.create("ali", data_shape=(2,), latent_dim=2, hidden=(16,), critic_hidden=(16,), generator="linear")
    dm = Grid25(n_train=3000, n_test=500, val_size=500)
    out = evaluate(model, dm, n=500, probe=False)
    m = out["metrics"]
    assert m["n_modes"] == 25 and 0 <= m["modes_captured"] <= 25 and 0 <= m["high_quality_fraction"] <= 1
    assert 0 <= m["min_mode_fraction"] <= m["high_quality_fraction"] / 25
    assert out["protocol"]["n"] == 500 and "fid_lenet" not in m


def test_evaluate_leaves_the_callers_random_stream_alone():
    model = gimzoo.create("vae", hidden=(16,))
    dm = RandomImages(n_train=200, n_test=50, val_size=20)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    evaluate(model, dm, n=50, probe=False, iwae_k=2)
    assert torch.equal(torch.rand(3), expected)


def fit(callbacks):
    L.seed_everything(0)
    model = gimzoo.create("vae", hidden=(16,))
    trainer = L.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", callbacks=callbacks)
    trainer.fit(model, datamodule=RandomImages(n_train=160, n_test=40, val_size=40, batch_size=16))
    return model, trainer


def test_periodic_evaluation_logs_and_does_not_change_training():
    with_eval, trainer = fit([PeriodicEvaluation(every_n_epochs=1, n=40, iwae_k=2)])
    logged = trainer.callback_metrics
    assert {"eval/recon_mse", "eval/mmd_qz_pz", "eval/knn1_accuracy", "eval/iwae_nll"} <= set(logged)
    assert with_eval.training
    without, _ = fit([])
    for a, b in zip(with_eval.parameters(), without.parameters()):
        assert torch.equal(a, b)


def test_periodic_evaluation_scores_the_averaged_weights_under_ema(monkeypatch):
    """With EMAWeightAveraging the checkpoint holds the averaged weights; the periodic evaluation scores the same
    ones, and training goes on with the raw weights."""
    from lightning.pytorch.callbacks import EMAWeightAveraging

    import gimzoo.metrics.evaluate as evaluation

    seen, real_evaluate = [], evaluation.evaluate

    def recording_evaluate(model, *args, **kwargs):
        seen.append([p.detach().clone() for p in model.parameters()])
        return real_evaluate(model, *args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate", recording_evaluate)
    ema = EMAWeightAveraging(decay=0.5)
    model, _ = fit([ema, PeriodicEvaluation(every_n_epochs=1, n=40, iwae_k=2)])
    assert len(seen) == 2
    # after fit, Lightning copies the average into the model: the last evaluation saw exactly those weights
    for evaluated, final in zip(seen[-1], model.parameters()):
        assert torch.equal(evaluated, final)
    raw, _ = fit([EMAWeightAveraging(decay=0.5)])
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), raw.parameters())), "training changed"


def test_pca_baseline_is_exact_on_low_rank_data_and_evaluates_like_a_model():
    from gimzoo.models.pca import PCA

    basis, codes = torch.rand(3, 64), torch.randn(500, 3)
    x = (0.5 + 0.05 * codes @ basis).clamp(0, 1).reshape(500, 1, 8, 8)  # rank 3 around 0.5, inside [0, 1]
    model = PCA.fit(x, 3)
    z = model.encode(x)
    assert torch.allclose(z.var(0), torch.ones(3), atol=1e-3)  # whitened codes: p(z) = N(0, I) fits q(z)
    assert torch.allclose(model.reconstruct(x), x, atol=1e-5)  # rank 3 is reconstructed exactly
    assert float(((PCA.fit(x, 1).reconstruct(x) - x) ** 2).mean()) > 1e-5
    s = model.sample(1000)
    assert s.shape == (1000, 1, 8, 8) and torch.allclose(s.mean(0), x.mean(0), atol=0.01)
    with pytest.raises(ValueError, match="n_components"):
        PCA.fit(x, 65)
    out = evaluate(PCA.fit(torch.rand(200, 1, 28, 28), 8), RandomImages(n_train=200, n_test=50, val_size=20),
                   n=50, probe=False)
    m = out["metrics"]
    assert m["recon_mse"] > 0 and 0 <= m["knn1_accuracy"] <= 1 and m["rec_nll"] is None and m["iwae_nll"] is None


def test_eval_profile_times_every_part_and_leaves_the_model_as_it_was(capsys, monkeypatch, tmp_path):
    """gimzoo eval --profile: the seconds of each part, which add up to the whole; the weights' layout (channels-last
    during the evaluation) is restored after it."""
    from gimzoo.cli import report

    model = gimzoo.create("vae", arch="conv", hidden=(8, 16), latent_dim=4).eval()
    layouts = {n: p.stride() for n, p in model.named_parameters()}
    data = RandomImages(n_train=300, n_test=200, val_size=50)
    result = evaluate(model, data, n=200, iwae_k=4)
    assert {n: p.stride() for n, p in model.named_parameters()} == layouts
    parts = result["profile"]
    assert {"codes", "mmd", "training codes", "k-NN", "probe", "scorecard", "iwae"} <= set(parts)
    assert all(v >= 0 for v in parts.values()) and sum(parts.values()) <= result["seconds"] + 0.1
    report(result, profile=True)
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("# profile (seconds): "))
    assert "iwae" in line and "; other" in line
