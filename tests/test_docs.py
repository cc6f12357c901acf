"""The documentation: the site builds with --strict (a broken link, reference or docstring fails), its generated
pages hold what they are generated from, and the README stays a front page."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import gimzoo
from gimzoo import hub

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def test_the_site_builds_strict_with_a_page_per_model(site):
    for name in gimzoo.list_models():
        page = (site / "models" / name / "index.html").read_text()
        assert gimzoo.registry.get_model_entry(name).paper.split(" (")[0].replace("&", "&amp;") in page
        assert "zoo_configs/" in page and "Published checkpoints" in page
    index = (site / "models" / "index.html").read_text()
    assert all(f'href="{n}/"' in index for n in gimzoo.list_models())


def test_a_published_model_page_shows_its_metrics_protocol_recipe_and_samples(site):
    page = (site / "models" / "infogan" / "index.html").read_text()
    metrics = hub.read_manifest()["infogan-mnist"]["evaluation"]["metrics"]
    from gimzoo.modelcard import format_metric

    assert format_metric(metrics["cluster_hungarian_accuracy"]) in page and "The protocol" in page and "lenet-mnist" in page
    assert "img/infogan-mnist.png" in page and (site / "models" / "img" / "infogan-mnist.png").stat().st_size > 1000
    assert "lam_ramp" in page  # the API section, from the class docstring


def test_the_cli_reference_has_every_command(site):
    from gimzoo.cli import COMMANDS

    page = (site / "cli" / "index.html").read_text()
    assert all(f"gimzoo {name}" in page for name in COMMANDS) and "--interpolate" in page


def test_the_readme_is_a_front_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for section in ("## Install and the two commands", "## Models", "## Pretrained models", "## Adding a model",
                    "## Documentation", "make train MODEL=", "make test"):
        assert section in readme
    for link in ("docs/getting-started.md", "docs/latent.md", "docs/training.md", "docs/evaluation.md"):
        assert link in readme and (ROOT / link).is_file()
