"""MPCC: Matching Priors and Conditionals for Clustering, AIM with a learnable Gaussian-mixture prior.

Astorga, Huijse, Estévez & Förster, ECCV 2020 (arXiv:2008.13036); official code github.com/jumpynitro/MPCC.
Eq. (4) of DESIGN.md with p(z) = sum_y p(y) p(z|y), p(y) = 1/K fixed and
p(z|y) = N(mu_y, (exp(l_y / 2) + sigma0)^2) learnt:

    critic (hinge):    min_D  E_q(x) max(0, 1 - D(x)) + E_p max(0, 1 + D(G(z)))                   (critic_gan)
    generator, prior:  min    -E_p D(G(z)),  z = mu_y + s_y * eps reparameterised               (fool)
    encoder:           min    E_p[-log q(z | G(z))]   (z and G(z) held fixed)                    (latent_nll)
    prior:             min    E_p[-log p(y|z)] - w * mean_y H(N(mu_y, diag exp(l_y))) / d       (prior_class, prior_entropy)
    generator, encoder (cluster_weight > 0, not in the paper):
                       min    lambda_c * E_p[-log p(y | mu_phi(G(z)))]   (p(y|.)'s mixture held fixed)  (cluster_nll)

Clusters of data are argmax_y p(y | mu_phi(x)), the mixture's posterior at the encoder's mean. With
``q_rotation`` or ``q_shift`` > 0 (not in the paper; InfoGAN's option of the same name) the encoder reads z back
from a randomly rotated and shifted copy of G(z), so that what it reads, the component included, must survive a
small rotation (``q_contrast``: and a dimming of the copy's contrast, as InfoGAN's). The latent NLL trains the
encoder only: let into the prior, it shrinks the components (a tighter p(z|y) makes z easier to predict) until the
generator sees ten points (measured: the components' entropy fell below 0 and the samples collapsed within 3
epochs). The cluster term is InfoGAN's mutual-information term (and ClusterGAN's label cycle loss) on the
component: it asks the generator, as well as the encoder, to keep the component that drew z readable from G(z)
(through the same view), where the paper's generator learns only from the critic. The posterior p(y|.) that
reads the code holds the mixture fixed; the prior still learns from the term through z = mu_y + s_y * eps, as it
does from the critic's.

With ``restart_below`` > 0 (not in the paper) a component that has lost its data is re-seeded: after each epoch
in [restart_from, restart_until] the encoder reads the latest 2,000 training images, and if the emptiest
component is the most probable one for fewer than restart_below / K of them, it takes one half of the fullest
component (2-means on that component's codes), as k-means re-seeds an empty cluster. Measured without it: a seed
on which one component drew the 2s and the 8s while two drew the 5s, and 20 more epochs of the critic did not
undo it (docs/results.md, section (4)). The EMA callback's average catches up with a re-seeded mean within an
epoch or two (decay 0.999), so the last re-seed should come a few epochs before the end.

From the official MNIST script (scripts/mnist_example.sh): hinge loss, 4 critic steps per generator step,
lr 2e-4 for G and D and 16e-4 for the prior, Adam beta1 = 0 (BigGAN's), latent 24, batch 50, entropy weight
0.01, EMA of G. The zoo keeps the losses, the step ratio, the learning rates and the entropy weight; the
official code takes 4 encoder steps per generator step (the zoo: one, with the encoder's learning rate
``lr``), a BigGAN ResNet (the zoo: the shared MLP/DCGAN bodies) and 600 epochs (see the configs).
"""
from __future__ import annotations

from typing import Sequence

import torch
from lightning.pytorch.utilities import rank_zero_info

from ..nets import GaussianMixturePrior
from ..objectives import categorical_nll, gaussian_entropy
from ..registry import register_model
from .aim import AIM
from .base import adam


@register_model("mpcc", paper="Astorga et al., ECCV 2020 (arXiv:2008.13036)")
class MPCC(AIM):
    def __init__(
        self,
        data_shape: Sequence[int] = (1, 28, 28),
        latent_dim: int = 24,
        arch: str = "mlp",
        hidden: Sequence[int] = (1024, 1024),
        activation: str = "leaky_relu",
        generator: str = "tanh",
        critic_hidden: Sequence[int] = (1024, 1024),
        batchnorm: bool | None = None,
        n_clusters: int = 10,
        sigma0: float = 0.0,
        prior_init_scale: float = 1.0,
        entropy_weight: float = 0.01,
        latent_weight: float = 1.0,
        critic_spectral_norm: bool = False,
        lr: float = 2e-4,
        lr_critic: float = 2e-4,
        lr_prior: float = 1.6e-3,
        betas: Sequence[float] = (0.0, 0.999),
        betas_critic: Sequence[float] = (0.0, 0.999),
        critic_steps: int = 4,
        lr_decay: str = "constant",
        q_rotation: float = 0.0,
        q_shift: float = 0.0,
        q_contrast: float = 0.0,
        cluster_weight: float = 0.0,
        restart_below: float = 0.0,
        restart_from: int = 1,
        restart_until: int | None = None,
        compile: bool = False,
    ):
        """
        Args:
            n_clusters: K, the mixture's components (and the clusters ``cluster(x)`` answers with).
            sigma0: the floor of every component's scale, s_y = exp(l_y / 2) + sigma0.
            prior_init_scale: the components' means start as prior_init_scale * N(0, I).
            entropy_weight: w of the component-entropy term.
            lr_prior: the prior's learning rate (a parameter group of the model player's Adam).
            cluster_weight: lambda_c of the cluster term, which trains the generator and the encoder (not in the
                paper; 0: off). See the module docstring.
            restart_below: re-seed a component that holds fewer than restart_below / K of the recent training
                images by splitting the fullest one (not in the paper; 0: off; see :meth:`restart_component`).
            restart_from, restart_until: the first and last epoch (counted from 1) after which the loads are
                checked (None: every epoch from restart_from on).
            Other arguments as :class:`~gimzoo.models.aim.AIM` (hinge loss, latent NLL kept out of G).
        """
        super().__init__(data_shape, latent_dim, arch, hidden, activation, generator, "normal", critic_hidden,
                         batchnorm, "hinge", latent_weight, False, critic_spectral_norm, lr, lr_critic, betas,
                         betas_critic, critic_steps, lr_decay, q_rotation, q_shift, q_contrast, compile=compile)
        self.save_hyperparameters()
        if cluster_weight < 0:
            raise ValueError(f"cluster_weight is a weight >= 0, got {cluster_weight}")
        if not 0 <= restart_below < 1:
            raise ValueError(f"restart_below is a fraction of the even load 1/K in [0, 1), got {restart_below}")
        self.restart_below, self.restart_from, self.restart_until = restart_below, restart_from, restart_until
        self._recent: list[torch.Tensor] = []  # the last RESTART_IMAGES training images, for the restart check
        self.entropy_weight, self.lr_prior, self.cluster_weight = entropy_weight, lr_prior, cluster_weight
        self.prior = GaussianMixturePrior(latent_dim, n_clusters, sigma0=sigma0, init_scale=prior_init_scale)

    def model_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        y = self.prior.sample_components(len(x))
        z = self.prior.sample(len(x), y=y)  # (B, latent_dim), differentiable in mu_y and l_y
        fake = self.decoder.mean(z)
        terms = {
            "fool": self.fool_fn(self.critic(fake)),
            "latent_nll": self.latent_term(z.detach(), fake.detach()),
            "prior_class": categorical_nll(self.prior.component_log_prob(z), y).mean(),
            "prior_entropy": -gaussian_entropy(self.prior.log_var).mean() / self.prior.latent_dim,
        }
        if self.cluster_weight:
            read = self.prior.component_log_prob(self.encoder.code(self.q_view(fake)), fixed=True)
            terms["cluster_nll"] = categorical_nll(read, y).mean()
        return terms

    def model_weights(self) -> dict[str, float]:
        return {"latent_nll": self.latent_weight, "prior_entropy": self.entropy_weight,
                "cluster_nll": self.cluster_weight}

    @property
    def n_clusters(self) -> int:
        return self.prior.n_components

    def cluster_scores(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, *data_shape), internal range -> p(y | mu_phi(x)) (B, n_clusters), the posterior of the component."""
        return self.prior.posterior(self.encoder.code(x))

    # -- re-seeding a component that lost its data (not in the paper) ---------------------------------
    #: how many of the most recent training images the restart check encodes
    RESTART_IMAGES = 2000

    def restarts_after_this_epoch(self) -> bool:
        epoch = self.current_epoch + 1
        last = epoch if self.restart_until is None else self.restart_until
        return bool(self.restart_below) and self.restart_from <= epoch <= last

    def on_train_batch_end(self, outputs, batch, batch_idx) -> None:
        if self.restarts_after_this_epoch():  # only the epochs that end in a check keep images
            self._recent.append(batch[0].detach())
            while sum(len(x) for x in self._recent) - len(self._recent[0]) >= self.RESTART_IMAGES:
                self._recent.pop(0)

    def on_train_epoch_end(self) -> None:
        if not (self._recent and self.restarts_after_this_epoch()):
            return
        was_training = self.training
        self.eval()  # the codes that cluster(x) would give
        with torch.no_grad():
            codes = self.encoder.code(self.to_internal(torch.cat(self._recent)))
        self.train(was_training)
        codes = self.all_gather(codes).reshape(-1, codes.shape[-1])  # every process decides on the same codes
        self._recent.clear()
        load = self.restart_component(codes, self.optimizers(use_pl_optimizer=False)[0])
        self.log_dict({"train/cluster_load_min": load.min(), "train/cluster_load_max": load.max()})

    @torch.no_grad()
    def restart_component(self, codes: torch.Tensor, optimizer: torch.optim.Optimizer | None = None) -> torch.Tensor:
        """The loads p_k = the fraction of ``codes`` (N, D), encoder codes of training images, whose most probable
        component is k. If the emptiest component holds fewer than restart_below / K, it is re-seeded from the
        fullest one, split in two by :meth:`GaussianMixturePrior.split`, and the optimizer's moments of both
        components are zeroed. For a run in which one component draws two digits and another shares a digit with a
        third (measured: the generator never undoes it from the critic alone); as k-means re-seeds an empty
        cluster. Returns the loads before the check (K,)."""
        k = self.prior.n_components
        y = self.prior.posterior(codes).argmax(1)
        load = torch.bincount(y, minlength=k).float() / len(codes)
        small, big = int(load.argmin()), int(load.argmax())
        if load[small] < self.restart_below / k:
            self.prior.split(big, small, codes[y == big])
            for p in (self.prior.means, self.prior.log_var) if optimizer is not None else ():
                for moment in ("exp_avg", "exp_avg_sq"):
                    if moment in optimizer.state.get(p, {}):
                        optimizer.state[p][moment][[small, big]] = 0
            rank_zero_info(f"MPCC, epoch {self.current_epoch + 1}: component {small} held {load[small]:.1%} of "
                           f"{len(codes)} training images; re-seeded by splitting component {big} ({load[big]:.1%})")
        return load

    def configure_optimizers(self):
        prior = {id(p) for p in self.prior.parameters()}
        rest = [p for p in self.model_parameters() if id(p) not in prior]
        model = adam(rest, self.lr, self.betas)
        model.add_param_group({"params": list(self.prior.parameters()), "lr": self.lr_prior})
        return model, adam(self.critic_parameters(), self.lr_critic, self.betas_critic)
