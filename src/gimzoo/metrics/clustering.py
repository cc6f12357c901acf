"""Clustering scores of predicted cluster indices against class labels (ClusterGAN / MPCC protocol).

* Hungarian accuracy: the best one-to-one map from clusters to classes (Kuhn-Munkres on the contingency
  table), then plain accuracy; with more clusters than classes the extra clusters count as errors.
* Majority accuracy: each cluster predicts its most frequent class (many-to-one; never below Hungarian).
* NMI: I(cluster; class) / ((H(cluster) + H(class)) / 2) (sklearn's default, arithmetic normalisation).
* ARI: the adjusted Rand index of Hubert & Arabie (1985), (RI - E[RI]) / (max RI - E[RI]) over pairs.
Both come from the contingency table and do not change when the clusters are relabelled.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


def contingency(pred: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(n_clusters, n_classes) counts of samples with each (cluster, class) pair."""
    if pred.shape != labels.shape or pred.dim() != 1:
        raise ValueError(f"expected two 1-D tensors of one length, got {tuple(pred.shape)} and {tuple(labels.shape)}")
    if len(pred) == 0:
        raise ValueError("expected at least one sample")
    pred, labels = pred.long().cpu(), labels.long().cpu()
    if pred.min() < 0 or labels.min() < 0:
        raise ValueError("cluster indices and labels must be non-negative integers")
    k, c = int(pred.max()) + 1, int(labels.max()) + 1
    return torch.bincount(pred * c + labels, minlength=k * c).view(k, c)


def linear_assignment(cost: torch.Tensor) -> torch.Tensor:
    """Minimum-cost one-to-one assignment for a square or wide (n <= m) cost matrix (Hungarian method with
    potentials, O(n^2 m)). Returns col (n,): row i is assigned column col[i]."""
    n, m = cost.shape
    if n > m:
        raise ValueError(f"expected rows <= columns, got a {n} x {m} cost matrix (transpose it)")
    c = cost.double().tolist()
    inf = float("inf")
    u, v = [0.0] * (n + 1), [0.0] * (m + 1)
    owner = [0] * (m + 1)  # owner[j]: the row (1-based) assigned to column j; 0 = free
    way = [0] * (m + 1)
    for i in range(1, n + 1):
        owner[0], j0 = i, 0
        minv, used = [inf] * (m + 1), [False] * (m + 1)
        while owner[j0]:
            used[j0], i0, delta, j1 = True, owner[j0], inf, 0
            for j in range(1, m + 1):
                if not used[j]:
                    reduced = c[i0 - 1][j - 1] - u[i0] - v[j]
                    if reduced < minv[j]:
                        minv[j], way[j] = reduced, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
        while j0:  # augment along the alternating path
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    col = [0] * n
    for j in range(1, m + 1):
        if owner[j]:
            col[owner[j] - 1] = j - 1
    return torch.tensor(col)


@dataclass(frozen=True)
class ClusteringScores:
    hungarian_accuracy: float
    majority_accuracy: float
    nmi: float
    ari: float
    n_clusters_used: int
    n_samples: int


def matched_confusion(pred: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The confusion matrix under the best one-to-one map from clusters to classes: a square (m, m) table, m the
    larger of the cluster and class counts, whose row i counts the samples of the cluster matched to class i (rows
    and columns past the real ones are zero); and ``order`` (m,), the cluster index of each row (an index past the
    last cluster marks an empty row). The matched samples lie on the diagonal."""
    table = contingency(pred, labels)
    k, c = table.shape
    square = torch.zeros(max(k, c), max(k, c), dtype=table.dtype)
    square[:k, :c] = table
    match = linear_assignment(-square)  # cluster i -> class match[i]
    order = torch.empty_like(match)
    order[match] = torch.arange(len(match))
    return square[order], order


def hungarian_accuracy(pred: torch.Tensor, labels: torch.Tensor) -> float:
    """Accuracy under the best one-to-one map from clusters to classes."""
    return float(matched_confusion(pred, labels)[0].diagonal().sum()) / len(pred)


def majority_accuracy(pred: torch.Tensor, labels: torch.Tensor) -> float:
    """Accuracy when every cluster predicts its most frequent class."""
    return float(contingency(pred, labels).max(dim=1).values.sum()) / len(pred)


def _entropy(counts: torch.Tensor) -> torch.Tensor:
    p = counts[counts > 0] / counts.sum()
    return -(p * p.log()).sum()


def nmi(pred: torch.Tensor, labels: torch.Tensor) -> float:
    """Normalised mutual information, arithmetic normalisation; 1.0 when both sides are one cluster."""
    table = contingency(pred, labels).double()
    h_pred, h_labels = _entropy(table.sum(1)), _entropy(table.sum(0))
    mi = h_pred + h_labels - _entropy(table.flatten())
    denom = (h_pred + h_labels) / 2
    return 1.0 if denom == 0 else float((mi / denom).clamp(0.0, 1.0))


def ari(pred: torch.Tensor, labels: torch.Tensor) -> float:
    """Adjusted Rand index; 1.0 for identical partitions, about 0 for independent ones."""
    table = contingency(pred, labels).double()
    pairs = lambda t: (t * (t - 1) / 2).sum()  # noqa: E731 - number of same-group pairs
    index, rows, cols = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    expected = rows * cols / pairs(table.sum().reshape(1))
    top = (rows + cols) / 2
    return 1.0 if top == expected else float((index - expected) / (top - expected))


def clustering_scores(pred: torch.Tensor, labels: torch.Tensor) -> ClusteringScores:
    """All four scores of predicted clusters ``pred`` (N,) against ``labels`` (N,)."""
    table = contingency(pred, labels)
    pred, labels = pred.long().cpu(), labels.long().cpu()
    return ClusteringScores(
        hungarian_accuracy=hungarian_accuracy(pred, labels),
        majority_accuracy=majority_accuracy(pred, labels),
        nmi=nmi(pred, labels),
        ari=ari(pred, labels),
        n_clusters_used=int((table.sum(1) > 0).sum()),
        n_samples=len(pred),
    )
