"""Evaluation metrics: mode coverage (2-D mixtures), clustering scores, representation probes."""
from .clustering import (ClusteringScores, ari, clustering_scores, contingency, hungarian_accuracy, linear_assignment,
                         majority_accuracy, matched_confusion, nmi)
from .modes import ModeCoverage, mode_coverage
from .representation import knn_accuracy, linear_probe_accuracy

__all__ = [
    "ClusteringScores", "ari", "clustering_scores", "contingency", "hungarian_accuracy", "linear_assignment",
    "majority_accuracy", "matched_confusion", "nmi", "ModeCoverage", "mode_coverage", "knn_accuracy",
    "linear_probe_accuracy",
]
