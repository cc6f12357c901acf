"""Model registry, in the style of timm and torchvision.

A registration is a name, a class and the keyword defaults that make the variant: ``beta-vae`` is the
VAE class registered with ``beta=4.0``, never a copied class. Names are keys; they are never parsed.
"""
from __future__ import annotations

import fnmatch
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable


class UnknownNameError(LookupError):
    """An unknown model, dataset or checkpoint name; the message lists the known ones."""

    def __str__(self) -> str:  # LookupError would print the repr of the message
        return str(self.args[0]) if self.args else ""


def unknown(kind: str, name: str, known: list[str]) -> UnknownNameError:
    return UnknownNameError(f"unknown {kind} {name!r}; known {kind}s: {', '.join(sorted(known)) or '(none)'}")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    cls: type
    defaults: dict[str, Any] = field(default_factory=dict)
    #: the paper of this variant, short (authors, venue year, arXiv id): the docs' model table and pages
    paper: str = ""

    def create(self, **overrides: Any):
        return self.cls(**{**self.defaults, **overrides})


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, *, paper: str = "", **defaults: Any) -> Callable[[type], type]:
    """Class decorator: ``@register_model("beta-vae", paper="Higgins et al., ICLR 2017", beta=4.0)`` registers
    ``name`` -> (class, defaults) and the variant's paper.

    Registering a name twice raises; defaults must be arguments of the class's ``__init__``.
    """

    def decorator(cls: type) -> type:
        if name in _MODELS:
            raise ValueError(f"model {name!r} is already registered (by {_MODELS[name].cls.__qualname__})")
        params = inspect.signature(cls.__init__).parameters
        bad = sorted(set(defaults) - set(params))
        if bad:
            raise TypeError(f"register_model({name!r}): {cls.__name__}.__init__ has no argument(s) {bad}")
        _MODELS[name] = ModelEntry(name, cls, dict(defaults), paper)
        return cls

    return decorator


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern`` (e.g. ``"*vae*"``), sorted."""
    return sorted(n for n in _MODELS if fnmatch.fnmatchcase(n, pattern))


def get_model_entry(name: str) -> ModelEntry:
    try:
        return _MODELS[name]
    except KeyError:
        raise unknown("model", name, list(_MODELS)) from None


def create(name: str, **overrides: Any):
    """Build the registered model ``name`` with its registration defaults, then ``overrides``."""
    return get_model_entry(name).create(**overrides)
