"""gimzoo: a PyTorch Lightning model zoo of generative-inference models.

Public API: ``create``, ``list_models`` (and ``register_model`` for new models).
"""
from . import models as _models  # noqa: F401  (registers every model)
from .registry import create, list_models, register_model

__all__ = ["create", "list_models", "register_model"]
__version__ = "0.1.0"
