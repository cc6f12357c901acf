import pytest

import gimzoo
from gimzoo.models import VAE
from gimzoo.registry import UnknownNameError, get_model_entry, register_model


def test_list_models_and_pattern():
    names = gimzoo.list_models()
    assert names == sorted(names) and {"vae", "beta-vae"} <= set(names)
    assert gimzoo.list_models("beta-*") == ["beta-vae"]
    assert gimzoo.list_models("no-such-*") == []


def test_variant_is_a_registration_not_a_copy():
    entry = get_model_entry("beta-vae")
    assert entry.cls is VAE and entry.defaults == {"beta": 4.0}
    m = gimzoo.create("beta-vae", latent_dim=3)
    assert type(m) is VAE and m.beta == 4.0 and m.hparams.latent_dim == 3
    assert gimzoo.create("beta-vae", beta=2.0).beta == 2.0  # overrides win over registration defaults


def test_duplicate_name_raises():
    with pytest.raises(ValueError, match="already registered"):
        register_model("vae")(VAE)


def test_registration_defaults_must_be_init_arguments():
    with pytest.raises(TypeError, match="no argument"):
        register_model("vae-typo", betaa=2.0)(VAE)
    assert "vae-typo" not in gimzoo.list_models()


def test_unknown_name_lists_known():
    with pytest.raises(UnknownNameError) as e:
        gimzoo.create("vea")
    assert "unknown model 'vea'" in str(e.value) and "beta-vae" in str(e.value) and "vae" in str(e.value)
