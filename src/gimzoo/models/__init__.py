"""One file per paper; importing this package registers every model."""
from .aae import AAE
from .avb import AVB
from .base import GenerativeInferenceModel, SingleOptimizerModel, TwoPlayerModel
from .bigan import BiGAN
from .infovae import InfoVAE
from .vae import VAE
from .wae import WAE

__all__ = ["GenerativeInferenceModel", "SingleOptimizerModel", "TwoPlayerModel", "AAE", "AVB", "BiGAN", "InfoVAE",
           "VAE", "WAE"]
