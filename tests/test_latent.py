"""The latent-space tools (gimzoo.latent) and their figures (gimzoo figure NAME --interpolate | --traverse |
--codes | --neighbours), on tiny untrained models: what each tool feeds the decoder is checked exactly."""
import pytest
import torch

import gimzoo
from gimzoo import latent
from gimzoo.data import RandomImages


def tiny(name="vae", **kw):
    return gimzoo.create(name, arch="mlp", hidden=(16,), latent_dim=4, **kw).eval()


def codes_decoder(model):
    """Make model.decode return its codes, so a test reads the latent points a tool decodes."""
    model.decode = lambda z: z
    return model


def test_interpolation_ends_at_the_two_codes_linear_midpoint_and_slerp_keeps_the_norm():
    model = codes_decoder(tiny())
    x = RandomImages(n_test=8).split("test")[0]
    x0, x1 = x[:4], x[4:]
    z0, z1 = model.encode(x0), model.encode(x1)
    path = latent.interpolate(model, x0, x1, steps=5, method="linear")
    assert path.shape == (4, 5, 4)
    assert torch.allclose(path[:, 0], z0) and torch.allclose(path[:, -1], z1, atol=1e-6)
    assert torch.allclose(path[:, 2], (z0 + z1) / 2, atol=1e-6)
    # slerp between codes of equal norm stays on their sphere; the straight line cuts inside it
    z1 = z1 / z1.norm(dim=1, keepdim=True) * z0.norm(dim=1, keepdim=True)
    t = torch.linspace(0, 1, 7)
    curve, line = latent._path(z0, z1, t, "slerp"), latent._path(z0, z1, t, "linear")
    assert torch.allclose(curve.norm(dim=2), z0.norm(dim=1, keepdim=True).expand(-1, 7), rtol=1e-4)
    assert (line[:, 3].norm(dim=1) < z0.norm(dim=1) - 1e-4).all()
    assert torch.allclose(latent._path(z0, z0.clone(), t, "slerp"), z0[:, None].expand(-1, 7, -1))  # parallel
    with pytest.raises(ValueError, match="unknown interpolation 'cubic'"):
        latent.interpolate(model, x0, x1, method="cubic")
    with pytest.raises(ValueError, match="at least 2"):
        latent.interpolate(model, x0, x1, steps=1)


def test_traversal_moves_one_dimension_per_row_over_the_prior_range_and_keeps_the_rest():
    model = codes_decoder(tiny())
    x = RandomImages(n_test=4).split("test")[0][:1]
    z0 = model.encode(x)[0]
    grid = latent.traverse(model, x, dims=[2, 0], steps=7)
    assert grid.shape == (2, 7, 4)
    for row, d in enumerate([2, 0]):
        others = [i for i in range(4) if i != d]
        assert torch.allclose(grid[row][:, others], z0[others].expand(7, -1))
        values = grid[row][:, d]
        assert -3.3 < values[0] < -2.7 and 2.7 < values[-1] < 3.3  # N(0, 1): -3 to 3, evenly spaced
        assert torch.allclose(values.diff(), values.diff()[0].expand(6), rtol=1e-4)
    uniform = codes_decoder(gimzoo.create("bigan", arch="mlp", hidden=(16,), critic_hidden=(16,), latent_dim=4).eval())
    values = latent.traverse(uniform, x, dims=[1], steps=5)[0][:, 1]
    assert -1.0 <= values[0] < -0.99 and 0.99 < values[-1] <= 1.0  # a uniform prior's range
    with pytest.raises(ValueError, match="one image"):
        latent.traverse(model, torch.cat([x, x]))
    with pytest.raises(ValueError, match=r"dims must lie in \[0, 3\]"):
        latent.traverse(model, x, dims=[4])


def test_active_dimensions_put_the_used_dimensions_first():
    model = tiny()
    model.encode = lambda x: torch.stack([x[:, 0, 0, 0] * 0.01, x[:, 0, 0, 1] * 10, x[:, 0, 0, 2]], 1)
    x = RandomImages(n_test=64).split("test")[0]
    assert latent.active_dimensions(model, x).tolist() == [1, 2, 0]


def test_infogan_code_traversal_holds_the_noise_and_moves_one_code():
    model = codes_decoder(gimzoo.create("infogan", arch="mlp", hidden=(16,), critic_hidden=(16,), noise_dim=3,
                                        n_categories=4, n_continuous=2).eval())
    panels = latent.traverse_codes(model, rows=3, steps=5)
    assert set(panels) == {"categorical", "continuous_0", "continuous_1"}
    noise, c, u = model.prior.split(panels["categorical"].flatten(0, 1))
    assert torch.equal(c.argmax(1), torch.arange(4).repeat(3))  # column k holds category k
    assert torch.equal(noise.unflatten(0, (3, 4))[:, 0], noise.unflatten(0, (3, 4))[:, 3])  # noise per row
    noise, c, u = model.prior.split(panels["continuous_1"].flatten(0, 1))
    assert torch.equal(c.argmax(1), torch.arange(4).repeat_interleave(5))  # row k: category k
    assert torch.allclose(u[:, 1].unflatten(0, (4, 5))[0], torch.linspace(-2, 2, 5)) and (u[:, 0] == 0).all()
    assert (noise == noise[0]).all()
    with pytest.raises(TypeError, match="has none"):
        latent.traverse_codes(tiny())


def test_code_maps_pca_is_the_top_two_principal_directions_and_tsne_gives_finite_points():
    model = tiny()
    x = RandomImages(n_test=200).split("test")[0]
    z = model.encode(x)
    points = latent.code_map(model, x, "pca")
    assert points.shape == (200, 2)
    s = torch.linalg.svdvals(z - z.mean(0))
    assert torch.allclose(torch.from_numpy(points).var(0, correction=0) * 200, s[:2] ** 2, rtol=1e-3)
    tsne = latent.code_map(model, x[:60], "tsne")
    assert tsne.shape == (60, 2) and torch.isfinite(torch.from_numpy(tsne)).all()
    with pytest.raises(ValueError, match="unknown map 'lda'"):
        latent.code_map(model, x, "lda")
    import importlib.util

    if importlib.util.find_spec("umap") is None:  # optional: without it, the error says what to install
        with pytest.raises(ImportError, match="pip install umap-learn"):
            latent.code_map(model, x, "umap")
    else:
        assert latent.code_map(model, x, "umap").shape == (200, 2)


def test_nearest_training_images_find_a_planted_copy_at_distance_zero():
    model = tiny()
    samples = model.sample(3, generator=torch.Generator().manual_seed(5))
    train = RandomImages(n_train=500).split("train")[0].float() / 255
    train[[17, 301, 450]] = samples  # the samples themselves, planted in the training set
    got, neighbours, distances = latent.nearest_training(model, train, n=3, k=2, seed=5, chunk=128)
    assert torch.equal(got, samples) and neighbours.shape == (3, 2, 1, 28, 28)
    assert torch.allclose(distances[:, 0], torch.zeros(3), atol=1e-3) and (distances[:, 1] > 1).all()
    assert torch.equal(neighbours[:, 0], samples)
    with pytest.raises(ValueError, match="k must be in"):
        latent.nearest_training(model, train, k=0)


@pytest.mark.parametrize("flag,shape", [("--interpolate", (3, 2 * 2 * 30 + 2, 11 * 30 + 2)),
                                        ("--traverse", (3, 2 * 30 + 2, 9 * 30 + 2)),
                                        ("--neighbours", (3, 2 * 30 + 2, 7 * 30 + 2)),
                                        ("--codes", None)])
def test_gimzoo_figure_draws_each_latent_tool(flag, shape, tmp_path, monkeypatch, capsys):
    from PIL import Image

    from gimzoo import cli

    model, dm = tiny(), RandomImages(n_train=300, n_test=100)
    monkeypatch.setattr(cli, "load_for_eval", lambda name, config=None: (model, dm))
    out = tmp_path / "f.png"
    cli.run(["figure", "tiny", flag, "--n", "2", "--out", str(out)])
    assert out.exists() and f"wrote {out}" in capsys.readouterr().out
    if shape:
        size = Image.open(out).size
        assert (size[1], size[0]) == shape[1:]
    with pytest.raises(SystemExit):
        cli.run(["figure", "a", "b", flag, "--out", str(out)])  # one model only
