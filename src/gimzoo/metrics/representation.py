"""How much of the data the codes carry: k-nearest-neighbour and linear-probe accuracy of class labels
from ``encode(x)``. Both are fit on the training split and scored on the test split (never the reverse).

* k-NN: the majority label of the k nearest training codes (Euclidean distance, or cosine distance as
  in the BiGAN paper's 1-NN), ties to the nearest; computed in chunks, exact.
* Linear probe: multinomial logistic regression on standardised codes (training-split mean and std),
  full-batch L-BFGS with a small L2 penalty: a convex problem, so the figure does not depend on a seed.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _check(train_z, train_y, test_z, test_y) -> None:
    if train_z.dim() != 2 or test_z.dim() != 2 or train_z.shape[1] != test_z.shape[1]:
        raise ValueError(f"expected codes (N, d) and (M, d), got {tuple(train_z.shape)} and {tuple(test_z.shape)}")
    if len(train_z) != len(train_y) or len(test_z) != len(test_y):
        raise ValueError("expected one label per code")
    if len(train_z) == 0 or len(test_z) == 0:
        raise ValueError("expected non-empty training and test sets")


@torch.no_grad()
def knn_accuracy(train_z: torch.Tensor, train_y: torch.Tensor, test_z: torch.Tensor, test_y: torch.Tensor,
                 k: int = 1, metric: str = "euclidean", chunk: int = 128) -> float:
    """Accuracy of k-NN classification of ``test_z`` by the labelled ``train_z``."""
    _check(train_z, train_y, test_z, test_y)
    if metric not in ("euclidean", "cosine"):
        raise ValueError(f"unknown metric {metric!r}; known: euclidean, cosine")
    train_z, test_z = train_z.float(), test_z.float()
    if metric == "cosine":
        train_z, test_z = F.normalize(train_z, dim=1), F.normalize(test_z, dim=1)
    train_y, n_classes = train_y.long(), int(max(train_y.max(), test_y.max())) + 1
    correct = 0
    for start in range(0, len(test_z), chunk):
        d = torch.cdist(test_z[start:start + chunk], train_z)
        nearest = d.topk(k, dim=1, largest=False).indices  # (b, k), nearest first
        votes = F.one_hot(train_y[nearest], n_classes).float()
        votes += torch.linspace(1e-3, 0, k).view(1, k, 1)  # ties go to the nearer neighbour's label
        correct += int((votes.sum(1).argmax(1) == test_y[start:start + chunk].long()).sum())
    return correct / len(test_z)


def linear_probe_accuracy(train_z: torch.Tensor, train_y: torch.Tensor, test_z: torch.Tensor,
                          test_y: torch.Tensor, l2: float = 1e-4, max_iter: int = 500) -> float:
    """Test accuracy of a multinomial logistic regression fit on the training codes."""
    _check(train_z, train_y, test_z, test_y)
    train_z, test_z = train_z.double(), test_z.double()
    mean, std = train_z.mean(0), train_z.std(0).clamp_min(1e-8)
    a, b = (train_z - mean) / std, (test_z - mean) / std
    n_classes = int(max(train_y.max(), test_y.max())) + 1
    with torch.enable_grad():
        w = torch.zeros(a.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
        bias = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([w, bias], lr=1, max_iter=max_iter, tolerance_grad=1e-7, tolerance_change=1e-10,
                                history_size=20, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(a @ w + bias, train_y.long()) + l2 * (w * w).sum()
            loss.backward()
            return loss

        opt.step(closure)
    with torch.no_grad():
        return float(((b @ w + bias).argmax(1) == test_y.long()).double().mean())
