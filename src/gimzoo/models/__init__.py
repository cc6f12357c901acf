"""One file per paper; importing this package registers every model."""
from .aae import AAE
from .aim import AIM
from .avb import AVB
from .base import GenerativeInferenceModel, SingleOptimizerModel, TwoPlayerModel
from .bigan import BigBiGAN, BiGAN
from .infogan import InfoGAN
from .infovae import InfoVAE
from .mpcc import MPCC
from .vae import VAE
from .wae import WAE

__all__ = ["GenerativeInferenceModel", "SingleOptimizerModel", "TwoPlayerModel", "AAE", "AIM", "AVB", "BigBiGAN", "BiGAN", "InfoGAN", "InfoVAE", "MPCC",
           "VAE", "WAE"]
