import os

import pytest
import torch

os.environ.setdefault("WANDB_MODE", "offline")
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in an empty folder so runs/ and logs land in tmp."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
