import math

import pytest
import torch

from gimzoo.data import Grid25, Ring8
from gimzoo.metrics import mode_coverage


def test_real_grid25_data_covers_every_mode_with_high_quality():
    dm = Grid25(n_train=2600, n_test=2500, val_size=100)
    x, _ = dm.split("test")
    m = mode_coverage(x, Grid25.means(), Grid25.sigma)
    # in 2-D, P(||x - mu|| <= 3 sigma) = 1 - exp(-9/2) = 0.9889: real data is the ceiling of "% high quality"
    assert m.modes_captured == 25 and abs(m.high_quality_fraction - (1 - math.exp(-4.5))) < 0.005
    assert m.reverse_kl < 0.02


def test_hand_made_cases():
    means = Ring8.means()
    # 3 modes hit exactly, in proportions 2:1:1, plus 4 samples far from every mode
    samples = torch.cat([means[[0, 0, 1, 2]], torch.full((4, 2), 5.0)])
    m = mode_coverage(samples, means, 0.01)
    assert (m.modes_captured, m.n_modes, m.n_samples) == (3, 8, 8)
    assert m.high_quality_fraction == 0.5
    h = torch.tensor([0.5, 0.25, 0.25])
    assert m.reverse_kl == pytest.approx(float((h * torch.log(8 * h)).sum()))
    # a sample just outside 3 sigma is not high quality and captures nothing
    off = mode_coverage(means[:1] + torch.tensor([[0.0301, 0.0]]), means, 0.01)
    assert off.modes_captured == 0 and off.high_quality_fraction == 0 and math.isinf(off.reverse_kl)
    with pytest.raises(ValueError, match="expected samples"):
        mode_coverage(torch.zeros(3), means, 0.01)
