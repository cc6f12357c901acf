"""Plain nn.Modules, no losses: bodies, encoders q(z|x), decoders p(x|z), critics and priors p(z)."""
from .bodies import ARCHS, WEIGHT_INITS, DecoderBody, EncoderBody, conv_widths, init_weights, mlp
from .critics import UnaryJointCritic, XCritic, XZCritic, ZCritic
from .decoders import (DECODERS, BernoulliDecoder, Decoder, GaussianDecoder, SigmoidGenerator, TanhGenerator,
                       make_decoder)
from .encoders import ENCODERS, CodeEncoder, DeterministicEncoder, GaussianEncoder, NoiseEncoder, make_encoder, reparameterize
from .priors import PRIORS, GaussianMixturePrior, InfoGANPrior, Prior, StandardNormalPrior, UniformPrior, make_prior
from .transforms import RandomView, random_contrast, random_rotate_shift

__all__ = [
    "ARCHS", "WEIGHT_INITS", "DecoderBody", "EncoderBody", "conv_widths", "init_weights", "mlp", "UnaryJointCritic", "XCritic",
    "XZCritic", "ZCritic", "DECODERS",
    "BernoulliDecoder", "Decoder", "GaussianDecoder", "SigmoidGenerator", "TanhGenerator", "make_decoder",
    "ENCODERS", "make_encoder", "CodeEncoder", "InfoGANPrior", "DeterministicEncoder",
    "GaussianEncoder", "NoiseEncoder", "reparameterize", "PRIORS", "GaussianMixturePrior", "Prior",
    "StandardNormalPrior", "UniformPrior", "make_prior", "RandomView", "random_contrast", "random_rotate_shift",
]
