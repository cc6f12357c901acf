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
    assert m.reverse_kl < 0.02 and 0.03 < m.min_mode_fraction <= 0.0396  # at most 1/25 of the 98.9 %


def test_hand_made_cases():
    means = Ring8.means()
    # 3 modes hit exactly, in proportions 2:1:1, plus 4 samples far from every mode
    samples = torch.cat([means[[0, 0, 1, 2]], torch.full((4, 2), 5.0)])
    m = mode_coverage(samples, means, 0.01)
    assert (m.modes_captured, m.n_modes, m.n_samples) == (3, 8, 8)
    assert m.high_quality_fraction == 0.5
    h = torch.tensor([0.5, 0.25, 0.25])
    assert m.reverse_kl == pytest.approx(float((h * torch.log(8 * h)).sum()))
    assert m.min_mode_fraction == 0  # 5 of the 8 modes are empty
    every = mode_coverage(torch.cat([means, means[:1]]), means, 0.01)  # each mode once, mode 0 twice
    assert every.modes_captured == 8 and every.min_mode_fraction == pytest.approx(1 / 9)
    # a sample just outside 3 sigma is not high quality and captures nothing
    off = mode_coverage(means[:1] + torch.tensor([[0.0301, 0.0]]), means, 0.01)
    assert off.modes_captured == 0 and off.high_quality_fraction == 0 and math.isinf(off.reverse_kl)
    with pytest.raises(ValueError, match="expected samples"):
        mode_coverage(torch.zeros(3), means, 0.01)


# -- clustering -------------------------------------------------------------------------------------------

def test_clustering_scores_ignore_how_clusters_are_named():
    from gimzoo.metrics import clustering_scores

    labels = torch.arange(10).repeat_interleave(30)
    perm = torch.tensor([3, 7, 0, 9, 1, 2, 8, 4, 6, 5])
    s = clustering_scores(perm[labels], labels)
    assert (s.hungarian_accuracy, s.majority_accuracy, s.nmi, s.ari) == (1.0, 1.0, 1.0, 1.0)
    assert s.n_clusters_used == 10 and s.n_samples == 300


def test_hungarian_is_one_to_one_and_majority_is_many_to_one():
    from gimzoo.metrics import hungarian_accuracy, majority_accuracy

    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
    merged = torch.tensor([5, 5, 5, 5, 5, 5, 1, 1, 1])  # classes 0 and 1 share cluster 5
    assert majority_accuracy(merged, labels) == pytest.approx(6 / 9)  # cluster 5 -> class 0 (tie: first)
    assert hungarian_accuracy(merged, labels) == pytest.approx(6 / 9)
    split = torch.tensor([0, 1, 2, 3, 4, 5, 6, 6, 6])  # class 0 and 1 split over three clusters each
    assert majority_accuracy(split, labels) == 1.0
    assert hungarian_accuracy(split, labels) == pytest.approx(5 / 9)  # one cluster per class: 1 + 1 + 3


def test_the_matched_confusion_puts_each_class_s_cluster_on_the_diagonal():
    from gimzoo.metrics import matched_confusion

    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
    pred = torch.tensor([4, 4, 2, 2, 2, 2, 0, 0, 3])  # class 0 -> cluster 4, 1 -> 2, 2 -> 0; cluster 3 one stray
    table, order = matched_confusion(pred, labels)
    assert order[:3].tolist() == [4, 2, 0] and table.shape == (5, 5)
    assert table[:3, :3].tolist() == [[2, 0, 0], [1, 3, 0], [0, 0, 2]] and table[:, 3:].sum() == 0
    assert table.sum() == 9 and sorted(order.tolist()) == [0, 1, 2, 3, 4]
    table, order = matched_confusion(torch.tensor([0, 0, 1]), torch.tensor([0, 2, 1]))  # fewer clusters than classes
    assert table.diagonal().sum() == 2 and table[2].sum() == 0 and order[2] >= 2  # the empty row has no cluster


def test_linear_assignment_finds_the_optimum():
    import itertools

    from gimzoo.metrics import linear_assignment

    g = torch.Generator().manual_seed(0)
    for n, m in [(1, 1), (3, 3), (4, 6), (6, 6)]:
        for _ in range(10):
            cost = torch.randint(0, 20, (n, m), generator=g).double()
            col = linear_assignment(cost)
            assert len(set(col.tolist())) == n
            best = min(sum(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n))
            assert cost[torch.arange(n), col].sum() == best
    with pytest.raises(ValueError, match="rows <= columns"):
        linear_assignment(torch.zeros(3, 2))


def test_nmi_and_ari_agree_with_torchmetrics_and_hand_values():
    import warnings

    from torchmetrics.functional.clustering import adjusted_rand_score, normalized_mutual_info_score

    from gimzoo.metrics import ari, nmi

    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (2000,), generator=g)
    p = torch.where(torch.rand(2000, generator=g) < 0.6, y, torch.randint(0, 12, (2000,), generator=g))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert nmi(p, y) == pytest.approx(float(normalized_mutual_info_score(p, y, "arithmetic")), abs=1e-6)
        assert ari(p, y) == pytest.approx(float(adjusted_rand_score(p, y)), abs=1e-6)
    # independent partitions: ARI about 0, NMI small; one cluster for everything: NMI 0, ARI 0
    q = torch.randint(0, 10, (2000,), generator=g)
    assert abs(ari(q, y)) < 0.01 and nmi(q, y) < 0.02
    assert nmi(torch.zeros(2000, dtype=torch.long), y) == 0.0 and ari(torch.zeros(2000, dtype=torch.long), y) == 0.0


def test_clustering_rejects_bad_input():
    from gimzoo.metrics import clustering_scores

    with pytest.raises(ValueError, match="1-D tensors of one length"):
        clustering_scores(torch.zeros(3, dtype=torch.long), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="non-negative"):
        clustering_scores(torch.tensor([-1, 0]), torch.tensor([0, 1]))


# -- representation ---------------------------------------------------------------------------------------

def test_probes_on_separable_and_on_random_codes():
    from gimzoo.metrics import knn_accuracy, linear_probe_accuracy

    g = torch.Generator().manual_seed(0)
    centres = torch.randn(5, 8, generator=g) * 5

    def blobs(n):
        y = torch.randint(0, 5, (n,), generator=g)
        return centres[y] + 0.5 * torch.randn(n, 8, generator=g), y

    (ztr, ytr), (zte, yte) = blobs(500), blobs(200)
    assert knn_accuracy(ztr, ytr, zte, yte) == 1.0 and knn_accuracy(ztr, ytr, zte, yte, k=5, metric="cosine") == 1.0
    assert linear_probe_accuracy(ztr, ytr, zte, yte) == 1.0
    noise_tr, noise_te = torch.randn(500, 8, generator=g), torch.randn(200, 8, generator=g)
    assert knn_accuracy(noise_tr, ytr, noise_te, yte) < 0.4 and linear_probe_accuracy(noise_tr, ytr, noise_te, yte) < 0.4


def test_knn_is_exact_and_breaks_ties_towards_the_nearest():
    from gimzoo.metrics import knn_accuracy

    train = torch.tensor([[0.0], [1.0], [10.0]])
    labels = torch.tensor([0, 1, 1])
    # test point 0.4: nearest is class 0, the 2-NN vote is 1:1 -> the nearest wins
    assert knn_accuracy(train, labels, torch.tensor([[0.4]]), torch.tensor([0]), k=2) == 1.0
    assert knn_accuracy(train, labels, torch.tensor([[0.6]]), torch.tensor([1]), k=1) == 1.0
    assert knn_accuracy(train, labels, torch.tensor([[0.4]]), torch.tensor([1]), k=3) == 1.0  # majority 1
    with pytest.raises(ValueError, match="unknown metric"):
        knn_accuracy(train, labels, train, labels, metric="manhattan")
