"""gimzoo: a PyTorch Lightning model zoo of generative-inference models.

Public API: ``load``, ``list_pretrained`` (the published checkpoints), ``create``, ``list_models`` (and
``register_model`` for new models).
"""
from . import models as _models  # noqa: F401  (registers every model)
from .hub import list_pretrained, load
from .registry import create, list_models, register_model

__all__ = ["load", "list_pretrained", "create", "list_models", "register_model"]
__version__ = "0.1.0"
