"""The two base classes that hold the zoo's only training steps.

Every model pairs p(x, z) = p(z) p(x|z) (``self.prior``, ``self.decoder``) with
q(x, z) = q(x) q(z|x) (the data, ``self.encoder``). Subclasses say which terms of eqs. (1)-(4) they
minimise and with what weights; the base classes do the optimisation and log every term under its
own name (``train/<term>``, ``val/<term>``, ``test/<term>``).

* :class:`SingleOptimizerModel`: one Adam over all parameters, loss = sum_k w_k * term_k.
* :class:`TwoPlayerModel`: a model player (encoder/decoder/prior) against a critic, Lightning manual
  optimisation; a critic step on every batch and a model step every ``critic_steps`` batches, with both
  learning rates optionally decayed linearly to zero over the run (``lr_decay="linear"``).

The public API (``encode``, ``decode``, ``sample``, ``reconstruct``) takes and returns images in
[0, 1] whatever pixel range the model uses inside (the decoder's ``output_range``).
"""
from __future__ import annotations

import functools
import inspect
import math
import numbers
from typing import Any, Mapping, Sequence

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities.parsing import collect_init_args
from torch import nn

from ..data.batches import pixel_mean
from ..nets import DecoderBody, EncoderBody, make_decoder, make_encoder
from ..objectives import mmd, reconstruction_nll, squared_error


class DivergenceError(FloatingPointError):
    """A training loss became NaN or infinite; the message names the terms and the step."""


def check_finite(terms: dict[str, torch.Tensor], loss: torch.Tensor, step: int, player: str = "model") -> None:
    """Raise :class:`DivergenceError` naming every non-finite term if ``loss`` is NaN or infinite (one
    device sync per step; the checkpoints written so far are left as they are)."""
    if not torch.isfinite(loss):
        bad = {k: float(v.detach()) for k, v in terms.items() if not torch.isfinite(v)} or {"loss": float(loss.detach())}
        raise DivergenceError(f"the {player}'s loss diverged at global step {step}: "
                              + ", ".join(f"{k} = {v}" for k, v in bad.items())
                              + " (the last checkpoint is from before this step; lower the learning rate or "
                                "resume from it with --ckpt_path)")


#: hyperparameters that must be > 0: sizes, step counts (integers) and learning rates
POSITIVE_INTEGERS = frozenset({"latent_dim", "noise_dim", "n_categories", "n_clusters", "n_moment_samples",
                               "critic_steps"})
NON_NEGATIVE_INTEGERS = frozenset({"n_continuous"})
LEARNING_RATES = frozenset({"lr", "lr_critic", "lr_prior"})
#: hyperparameters that are lists of widths (or the data shape): every entry an integer > 0
WIDTHS = frozenset({"data_shape", "hidden", "encoder_hidden", "critic_hidden", "fc"})


def check_hyperparameters(hparams: Mapping[str, Any], model: str = "model") -> None:
    """Refuse, with a ValueError naming the argument, a size, width or step count that is not a positive integer
    (``n_continuous`` may be 0) and a learning rate that is not > 0."""
    def integer(v) -> bool:
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    for k, v in hparams.items():
        if k in POSITIVE_INTEGERS and not (integer(v) and v > 0):
            raise ValueError(f"{model}: {k} must be an integer > 0, got {v!r}")
        if k in NON_NEGATIVE_INTEGERS and not (integer(v) and v >= 0):
            raise ValueError(f"{model}: {k} must be an integer >= 0, got {v!r}")
        if k in LEARNING_RATES and not (isinstance(v, numbers.Real) and not isinstance(v, bool) and v > 0):
            raise ValueError(f"{model}: {k} (a learning rate) must be > 0, got {v!r}")
        if k in WIDTHS and v is not None and not all(integer(w) and w > 0 for w in v):
            raise ValueError(f"{model}: every entry of {k} must be an integer > 0, got {list(v)!r}")


@functools.cache
def compiled(function):
    """``torch.compile(function)``, made once per function (an unbound method shared by every instance)."""
    return torch.compile(function)


#: the families, as the docs and the benchmark's figure name them
FAMILIES = {"(1)": "(1) KL(q||p) through KL(q(z|x)||p(z)) per x",
            "(2)": "(2) KL(q||p) through a divergence of q(z) and p(z)",
            "joint": "joint: a critic D(x, z) of the two joints",
            "(4)": "(4) KL(p||q) through a divergence of p(x) and the data",
            "linear": "linear baseline"}


def finish_saved_epoch(checkpoint: dict) -> None:
    """Make a checkpoint taken at the end of an epoch (Lightning's default: after the last batch and the validation,
    before the epoch counts as completed) resume at the start of the next epoch.

    Lightning (2.6) restarts a step-based run (``max_steps``) from such a checkpoint inside the finished epoch: it
    counts that epoch twice, so the data order and every epoch number after it move on by one, and the resumed run
    is not the uninterrupted one. Here the finished epoch is marked completed and the batch counter of the epoch
    cleared, as an uninterrupted run has them when its next epoch starts; the loader's own state (every batch
    served) already says the next epoch (:meth:`~gimzoo.data.batches.TensorBatches.load_state_dict`).
    """
    loop = checkpoint.get("loops", {}).get("fit_loop")
    if not loop:
        return
    epochs, batches = loop["epoch_progress"], loop["epoch_loop.batch_progress"]
    if not (batches["is_last_batch"] and epochs["current"]["processed"] == epochs["current"]["completed"] + 1):
        return
    for count in (epochs["total"], epochs["current"]):
        count["completed"] = count["processed"]
    batches["current"] = dict.fromkeys(batches["current"], 0)
    batches["is_last_batch"] = False


class GenerativeInferenceModel(L.LightningModule):
    """Common API of every zoo model. Subclasses build ``encoder``, ``decoder`` and ``prior``."""

    encoder: nn.Module
    decoder: nn.Module
    prior: nn.Module

    #: start the decoder's output at the mean training x (see ``on_fit_start``); set by subclasses
    init_output_bias: bool = False
    #: the Lightning strategy for several devices (two-player models leave one player's parameters unused in each
    #: backward, which plain DDP refuses)
    ddp_strategy: str = "ddp"
    #: which route to matching the joints the model takes (the README's equations): ``"(1)"`` KL(q||p) through
    #: KL(q(z|x)||p(z)) per x, ``"(2)"`` KL(q||p) through a divergence of the marginals q(z), p(z), ``"joint"`` a
    #: critic D(x, z) of the two joints, ``"(4)"`` KL(p||q) through a divergence of p(x) and the data
    family: str = ""

    def __init__(self, data_shape: Sequence[int], compile: bool = False):
        """Checks the init arguments of the whole constructor chain (:func:`check_hyperparameters`), so a bad size,
        width, step count or learning rate is refused before any network is built.

        ``compile``: training runs the model's terms through ``torch.compile`` (see :meth:`training_terms`)."""
        super().__init__()
        self.compile_terms = bool(compile)
        arguments: dict[str, Any] = {}
        for level in collect_init_args(inspect.currentframe(), [], classes=(GenerativeInferenceModel,)):
            arguments |= level  # the most specific class's arguments last, as save_hyperparameters collects them
        check_hyperparameters(arguments, type(self).__name__)
        self.data_shape = tuple(int(s) for s in data_shape)

    def on_fit_start(self) -> None:
        """On a fresh run (step 0, not a resume) with ``init_output_bias``, set the decoder's output bias so
        that p(x|z) starts at the mean training image instead of link(0) (e.g. grey 0.5 for a Bernoulli
        decoder): the first epochs then learn structure, not the background."""
        dm = self.trainer.datamodule
        resuming = self.trainer.ckpt_path is not None  # on_fit_start runs before the loops restore global_step
        if self.init_output_bias and not resuming and self.global_step == 0 and hasattr(dm, "split"):
            mean = pixel_mean(dm.split("train")[0], after_chunk=getattr(dm, "release", None))
            self.decoder.init_output_bias(self.to_internal(mean).to(self.device))

    # -- resume: the random streams continue where the checkpoint left them ------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["gimzoo_rng"] = {"torch": torch.get_rng_state(),
                                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}
        checkpoint["gimzoo_counters"] = {k: getattr(self, k) for k in ("critic_updates",) if hasattr(self, k)}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        finish_saved_epoch(checkpoint)
        for k, v in checkpoint.get("gimzoo_counters", {}).items():
            setattr(self, k, v)
        rng = checkpoint.get("gimzoo_rng")
        if rng is not None:
            torch.set_rng_state(rng["torch"])
            if rng["cuda"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(rng["cuda"])

    # -- pixel ranges -------------------------------------------------------------------------
    @property
    def pixel_range(self) -> tuple[float, float] | None:
        """The model's internal data range ((0, 1), (-1, 1)), or None for unbounded (2-D toy) data."""
        return self.decoder.output_range

    def to_internal(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] -> internal range."""
        r = self.pixel_range
        return x if r is None or r == (0.0, 1.0) else r[0] + (r[1] - r[0]) * x

    def from_internal(self, x: torch.Tensor) -> torch.Tensor:
        """internal range -> [0, 1]."""
        r = self.pixel_range
        return x if r is None or r == (0.0, 1.0) else ((x - r[0]) / (r[1] - r[0])).clamp(0.0, 1.0)

    def _as_model_tensor(self, t, what: str, shape: str) -> torch.Tensor:
        """``t`` cast to the model's floating-point dtype (float16, bfloat16 and float64 are accepted), refused with a
        ValueError when it is not a floating-point tensor or holds NaN or infinite values."""
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            got = f"a {t.dtype} tensor" if isinstance(t, torch.Tensor) else type(t).__name__
            hint = " (divide uint8 images by 255)" if isinstance(t, torch.Tensor) and t.dtype == torch.uint8 else ""
            raise ValueError(f"expected {what} as a floating-point tensor of shape {shape}, got {got}{hint}")
        if t.dtype != self.dtype:
            t = t.to(self.dtype)
        if t.numel() and not torch.isfinite(t).all():
            raise ValueError(f"{what} holds NaN or infinite values ({int((~torch.isfinite(t)).sum())} of {t.numel()})")
        return t

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, *data_shape) in [0, 1], cast to the model's dtype; a ValueError says what was expected otherwise."""
        shape = f"(B, {', '.join(map(str, self.data_shape))})"
        if isinstance(x, torch.Tensor) and (x.dim() != 1 + len(self.data_shape) or tuple(x.shape[1:]) != self.data_shape):
            raise ValueError(f"expected x of shape {shape}, got {tuple(x.shape)}")
        x = self._as_model_tensor(x, "x", shape)
        if self.pixel_range is not None and x.numel() and (x.min() < 0 or x.max() > 1):
            raise ValueError(f"expected pixels in [0, 1], got values in [{x.min():.3g}, {x.max():.3g}]")
        return x

    # -- public API: [0, 1] in, [0, 1] out -----------------------------------------------------
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, *data_shape) in [0, 1] -> code (B, latent_dim): the mean of q(z|x) where it has one."""
        return self.encoder.code(self.to_internal(self._check_input(x)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, latent_dim) -> E[x|z] in [0, 1], (B, *data_shape)."""
        shape = f"(B, {self.prior.latent_dim})"
        if isinstance(z, torch.Tensor) and (z.dim() != 2 or z.shape[1] != self.prior.latent_dim):
            raise ValueError(f"expected z of shape {shape}, got {tuple(z.shape)}")
        return self.from_internal(self.decoder.mean(self._as_model_tensor(z, "z", shape)))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples of p(x) = E_p(z) p(x|z), returned as decoder means in [0, 1]."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"n, the number of samples, must be an integer >= 0, got {n!r}")
        return self.decode(self.prior.sample(int(n), generator=generator))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """decode(encode(x))."""
        return self.decode(self.encode(x))

    #: the number of values of the discrete code behind ``cluster(x)`` (InfoGAN, MPCC); None without one
    n_clusters: int | None = None

    def _require_code(self, what: str) -> None:
        if self.n_clusters is None:
            raise TypeError(f"{type(self).__name__} has no discrete code: only models with one (InfoGAN, MPCC) {what}")

    def cluster_scores(self, x: torch.Tensor) -> torch.Tensor:
        """x in the internal range -> (B, n_clusters) scores of the discrete code, the largest at the cluster of x
        (implemented by the models with a discrete code)."""
        raise NotImplementedError

    @torch.no_grad()
    def cluster(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, *data_shape) in [0, 1] -> the cluster of each x (B,): the argmax of the discrete code's scores."""
        self._require_code("assign x to clusters")
        return self.cluster_scores(self.to_internal(self._check_input(x))).argmax(dim=1)

    def sample_cluster(self, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Samples of p(x | y) for a model with a discrete code: y (n,) cluster indices -> (n, *data_shape) in
        [0, 1], the code held at y and the rest of z drawn from the prior."""
        self._require_code("sample a cluster")
        return self.decode(self.prior.sample(len(y), generator=generator, y=y.to(self.device)))

    # -- the training terms, eager or compiled -----------------------------------------------------
    def training_terms(self, name: str):
        """The method ``name`` (``terms``, ``critic_terms``, ``model_terms``) as the training step calls it: with
        ``compile=True``, ``torch.compile`` of the whole term computation (networks, sampling and the terms' arithmetic
        in one graph: on a 2-core CPU this measured faster than compiling the networks alone; docs/speed.md).

        The compiled function is made once per class and takes the model as an argument, so nothing is stored on the
        module: its state dict, checkpoints, resume, deep copies (weight averaging) and DDP wrapping are those of the
        eager model, and evaluation runs eager."""
        if not self.compile_terms:
            return getattr(self, name)
        return functools.partial(compiled(getattr(type(self), name)), self)

    # -- logging --------------------------------------------------------------------------------
    def log_terms(self, stage: str, terms: dict[str, torch.Tensor]) -> None:
        """Log every term as ``<stage>/<name>``: per step in training, as epoch means otherwise."""
        train = stage == "train"
        for k, v in terms.items():
            self.log(f"{stage}/{k}", v.detach(), on_step=train, on_epoch=not train, prog_bar=k == "loss",
                     sync_dist=not train)

    def logs_this_step(self) -> bool:
        """True on the training steps whose metrics Lightning's loggers write (every ``log_every_n_steps``)
        and on the last batch of an epoch (so callbacks that monitor a training term see a value).

        Training steps hand their terms to ``self.log`` only then: on a small network each call costs
        about as much as the step's arithmetic, and the values of other steps would never be written.
        """
        trainer = self._trainer
        if trainer is None:
            return True
        return bool(trainer._logger_connector.should_update_logs or trainer.fit_loop.epoch_loop.batch_progress.is_last_batch)

    def evaluation_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Terms logged on validation and test batches (each base class gives its training terms)."""
        raise NotImplementedError

    def validation_step(self, batch, batch_idx):
        self.log_terms("val", self.evaluation_terms(self.to_internal(batch[0])))

    # -- test: the model's terms, plus the same two marginal/representation checks for every model ----
    def on_test_epoch_start(self) -> None:
        self._test_codes: list[torch.Tensor] = []

    def test_step(self, batch, batch_idx):
        """Logs the terms, ``test/recon_mse`` (mean squared error per pixel of reconstruct(x), in [0, 1])
        and collects the codes for ``test/mmd_qz_pz``."""
        x = self.to_internal(batch[0])
        self.log_terms("test", self.evaluation_terms(x))
        z = self.encoder.code(x)
        recon = self.from_internal(self.decoder.mean(z))
        self.log("test/recon_mse", F.mse_loss(recon.float(), batch[0].float()), sync_dist=True)
        self._test_codes.append(z.detach().float())

    def on_test_epoch_end(self) -> None:
        """``test/mmd_qz_pz``: unbiased MMD^2 (IMQ kernel, WAE scales) between the test codes, a sample of
        q(z), and as many samples of p(z) (seed 0)."""
        z = self.all_gather(torch.cat(self._test_codes)).reshape(-1, self.prior.latent_dim)
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(0)
            zp = self.prior.sample(len(z)).float()
        self.log("test/mmd_qz_pz", mmd(z, zp, "imq"), rank_zero_only=True)
        self._test_codes = []


def autoencoder(data_shape: Sequence[int], latent_dim: int, arch: str, hidden: Sequence[int], activation: str,
                encoder: str, decoder: str, batchnorm: bool | None = None,
                encoder_hidden: Sequence[int] | None = None) -> tuple[nn.Module, nn.Module]:
    """The encoder q(z|x) and decoder p(x|z) of a model: bodies of one ``arch``, the encoder's the decoder's mirrored
    unless ``encoder_hidden`` gives it widths of its own."""
    enc_hidden = hidden if encoder_hidden is None else encoder_hidden
    return (make_encoder(encoder, EncoderBody(data_shape, arch, enc_hidden, activation, batchnorm), latent_dim),
            make_decoder(decoder, DecoderBody(latent_dim, data_shape, arch, hidden, activation, batchnorm)))


def reconstruction_term(decoder: nn.Module, x: torch.Tensor, z: torch.Tensor, cost_scale: float) -> dict[str, torch.Tensor]:
    """The reconstruction term of eqs. (1)-(2) as the decoder defines it: ``nll`` = E[-log p(x|z)] for a
    probabilistic decoder, ``cost`` = cost_scale * ||x - G(z)||^2 (the WAE cost) for a deterministic one."""
    if decoder.likelihood is None:
        return {"cost": cost_scale * squared_error(x, decoder.mean(z)).mean()}
    return {"nll": reconstruction_nll(decoder.likelihood, x, decoder(z)).mean()}


def weighted_sum(terms: dict[str, torch.Tensor], weights: dict[str, float]) -> torch.Tensor:
    """sum_k w_k * term_k, with w_k = weights.get(k, 1)."""
    total = None
    for k, v in terms.items():
        w = weights.get(k, 1.0)
        v = v if w == 1.0 else w * v
        total = v if total is None else total + v
    return total


def adam(params, lr: float, betas: Sequence[float]) -> torch.optim.Adam:
    """Adam over the trainable parameters, with the fused kernel where they all live on CPU or CUDA: the same update,
    written in one pass over the parameters instead of a dozen foreach passes (3x faster for eight 400 x 400 layers
    on a 2-core CPU; docs/speed.md)."""
    params = [p for p in params if p.requires_grad]
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    return torch.optim.Adam(params, lr=lr, betas=tuple(betas), fused=fused or None)


class SingleOptimizerModel(GenerativeInferenceModel):
    """loss = sum_k weights[k] * terms(x)[k], one optimizer over every parameter.

    Subclasses implement ``terms(x) -> {name: batch-mean scalar}`` (x in the internal range) and
    ``weights() -> {name: weight}`` (missing names weigh 1), and may add ``monitors(terms)``:
    quantities logged but not optimised (e.g. the negative ELBO of a beta-VAE).
    """

    def __init__(self, data_shape: Sequence[int], lr: float, betas: Sequence[float], compile: bool = False):
        super().__init__(data_shape, compile)
        self.lr, self.betas = lr, tuple(betas)

    def terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def weights(self) -> dict[str, float]:
        return {}

    def monitors(self, terms: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {}

    def loss(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        return weighted_sum(terms, self.weights())

    def _logged(self, terms: dict[str, torch.Tensor], loss: torch.Tensor) -> dict[str, torch.Tensor]:
        return {**terms, **self.monitors(terms), "loss": loss}

    def training_step(self, batch, batch_idx):
        terms = self.training_terms("terms")(self.to_internal(batch[0]))
        loss = self.loss(terms)
        check_finite(terms, loss, self.global_step)
        if self.logs_this_step():
            self.log_terms("train", self._logged(terms, loss))
        return loss

    def evaluation_terms(self, x):
        terms = self.terms(x)
        return self._logged(terms, self.loss(terms))

    def configure_optimizers(self):
        return adam(self.parameters(), self.lr, self.betas)


class TwoPlayerModel(GenerativeInferenceModel):
    """A model player against a critic (manual optimisation).

    Subclasses set ``self.critic`` (or override ``critic_parameters()``) and implement
    ``critic_terms(x)`` (the critic's loss terms) and ``model_terms(x)`` (the model player's), with
    optional ``critic_weights()``/``model_weights()``.
    The model player owns every parameter that is not the critic's. Terms are logged as
    ``<stage>/critic_<name>`` and ``<stage>/<name>``.
    """

    automatic_optimization = False
    ddp_strategy = "ddp_find_unused_parameters_true"

    LR_DECAYS = ("constant", "linear")

    def __init__(self, data_shape: Sequence[int], lr: float, lr_critic: float, betas: Sequence[float],
                 betas_critic: Sequence[float], critic_steps: int = 1, lr_decay: str = "constant",
                 compile: bool = False):
        """``lr_decay``: ``"constant"`` or ``"linear"`` (every learning rate falls linearly from its value to
        zero over the run: the trainer's ``max_epochs`` or ``max_steps``, whichever ends it first)."""
        super().__init__(data_shape, compile)
        if lr_decay not in self.LR_DECAYS:
            raise ValueError(f"unknown lr_decay {lr_decay!r}; known: {', '.join(self.LR_DECAYS)}")
        self.lr_decay = lr_decay
        self.lr, self.lr_critic, self.critic_steps = lr, lr_critic, critic_steps
        self.critic_updates = 0  # counts critic steps; saved in checkpoints, so the alternation survives a resume
        self.betas, self.betas_critic = tuple(betas), tuple(betas_critic)

    def critic_parameters(self) -> list[nn.Parameter]:
        """The critic player's parameters; by convention the critic is ``self.critic``."""
        return list(self.critic.parameters())

    def model_parameters(self) -> list[nn.Parameter]:
        critic = {id(p) for p in self.critic_parameters()}
        return [p for p in self.parameters() if id(p) not in critic]

    def critic_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def model_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def critic_weights(self) -> dict[str, float]:
        return {}

    def model_weights(self) -> dict[str, float]:
        return {}

    def _player_step(self, optimizer, terms: dict[str, torch.Tensor], weights: dict[str, float],
                     player: str) -> torch.Tensor:
        """One optimizer step of one player: gradients of its loss for the parameters of its optimizer only."""
        loss = weighted_sum(terms, weights)
        check_finite(terms, loss, self.global_step, player)
        optimizer.zero_grad(set_to_none=True)
        if self.trainer.world_size > 1:
            # DDP's reducer waits for a gradient of every parameter that is in the graph and requires one, so
            # the other player's parameters are switched off (Lightning's toggle) rather than left out of backward
            self.toggle_optimizer(optimizer)
            self.manual_backward(loss)
            self.untoggle_optimizer(optimizer)
        else:
            self.manual_backward(loss, inputs=[p for group in optimizer.param_groups for p in group["params"]])
        optimizer.step()
        return loss

    def run_progress(self) -> float | None:
        """The fraction of the run done, by whichever limit ends it first: batches of ``max_epochs`` or optimizer
        steps of ``max_steps`` (Lightning counts every player's step); None for a run of unknown length."""
        t = self.trainer
        fractions = []
        if t.max_steps is not None and t.max_steps > 0:
            fractions.append(t.global_step / t.max_steps)
        if t.max_epochs is not None and t.max_epochs > 0 and math.isfinite(t.num_training_batches):
            fractions.append(t.fit_loop.total_batch_idx / (t.max_epochs * t.num_training_batches))
        return min(1.0, max(fractions)) if fractions else None

    def on_train_start(self) -> None:
        if self.lr_decay != "constant" and self.run_progress() is None:
            raise ValueError(f"lr_decay={self.lr_decay!r} needs a run of known length: set trainer.max_epochs or "
                             "trainer.max_steps")

    def _set_learning_rates(self, optimizers) -> None:
        """lr = initial lr * (1 - run_progress()) for ``lr_decay="linear"``; computed from the loop's progress (not
        stepped), so a resumed run continues on the same schedule."""
        if self.lr_decay == "constant":
            return
        factor = 1.0 - self.run_progress()
        for opt in optimizers:
            for group in opt.param_groups:
                group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor

    def training_step(self, batch, batch_idx):
        opt_model, opt_critic = optimizers = self.optimizers()
        self._set_learning_rates(optimizers)
        x = self.to_internal(batch[0])
        c_terms = self.training_terms("critic_terms")(x)
        c_loss = self._player_step(opt_critic, c_terms, self.critic_weights(), "critic")
        self.critic_updates += 1
        logged = {f"critic_{k}": v for k, v in c_terms.items()} | {"critic_loss": c_loss}
        if self.critic_updates % self.critic_steps == 0:
            m_terms = self.training_terms("model_terms")(x)
            loss = self._player_step(opt_model, m_terms, self.model_weights(), "model")
            logged |= m_terms | {"loss": loss}
        if self.logs_this_step():
            self.log_terms("train", logged)

    def evaluation_terms(self, x):
        c, m = self.critic_terms(x), self.model_terms(x)
        return ({f"critic_{k}": v for k, v in c.items()} | {"critic_loss": weighted_sum(c, self.critic_weights())}
                | m | {"loss": weighted_sum(m, self.model_weights())})

    def configure_optimizers(self):
        return (adam(self.model_parameters(), self.lr, self.betas),
                adam(self.critic_parameters(), self.lr_critic, self.betas_critic))
