"""One file per paper; importing this package registers every model."""
from .base import GenerativeInferenceModel, SingleOptimizerModel, TwoPlayerModel
from .vae import VAE

__all__ = ["GenerativeInferenceModel", "SingleOptimizerModel", "TwoPlayerModel", "VAE"]
