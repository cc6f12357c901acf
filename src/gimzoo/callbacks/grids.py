"""Sample and reconstruction grids and a 2-D map of the codes, written as PNG (and to wandb when it is the
logger) every epoch."""
from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torchvision.utils import make_grid, save_image

from ..data.batches import pixels


def run_dir(trainer: L.Trainer) -> Path:
    """The folder of this run: <save_dir>/<name>/<version> of the first logger, as Lightning's checkpoints use."""
    logger = trainer.logger
    if logger is None or logger.save_dir is None:
        return Path(trainer.default_root_dir)
    version = logger.version if isinstance(logger.version, str) else f"version_{logger.version}"
    return Path(logger.save_dir) / str(logger.name) / version


def scatter_image(points: torch.Tensor, size: int = 256, extent: float | None = None) -> torch.Tensor:
    """2-D points -> a (1, size, size) density image (log-scaled histogram, dark = dense), for toy data."""
    extent = extent or float(points.abs().max().clamp(min=1e-3)) * 1.1
    ij = ((points.float() / extent + 1) * 0.5 * (size - 1)).round().long().clamp(0, size - 1)
    img = torch.zeros(size * size)
    img.index_add_(0, (size - 1 - ij[:, 1]) * size + ij[:, 0], torch.ones(len(ij)))
    # every occupied pixel at least 40 % grey, so that single points stay visible next to dense modes
    ink = torch.where(img > 0, 0.4 + 0.6 * torch.log1p(img) / torch.log1p(img.max()).clamp(min=1e-6), img)
    return 1 - ink.view(1, size, size)


#: ten well-separated colours (Okabe-Ito and Tableau), one per label
PALETTE = torch.tensor([[0, 114, 178], [230, 159, 0], [0, 158, 115], [204, 121, 167], [86, 180, 233],
                        [213, 94, 0], [240, 228, 66], [0, 0, 0], [148, 103, 189], [140, 86, 75]]) / 255.0


def pca_2d(z: torch.Tensor) -> torch.Tensor:
    """(N, d) -> (N, 2): the codes projected on their two principal axes (the codes themselves when d <= 2)."""
    z = z.float() - z.float().mean(0)
    if z.shape[1] <= 2:
        return torch.nn.functional.pad(z, (0, 2 - z.shape[1]))
    _, _, v = torch.linalg.svd(z, full_matrices=False)
    return z @ v[:2].T


def code_map(z: torch.Tensor, labels: torch.Tensor, size: int = 256) -> torch.Tensor:
    """A (3, size, size) image of the codes' 2-D PCA projection, one 2x2 dot per code coloured by its label."""
    p = pca_2d(z)
    extent = float(p.abs().max().clamp(min=1e-6)) * 1.05
    ij = ((p / extent + 1) * 0.5 * (size - 2)).round().long().clamp(0, size - 2)
    img = torch.ones(3, size, size)
    colour = PALETTE[labels.long() % len(PALETTE)].T  # (3, N)
    for di in (0, 1):
        for dj in (0, 1):
            img[:, size - 2 - ij[:, 1] + di, ij[:, 0] + dj] = colour
    return img


class SampleGrids(L.Callback):
    """Every ``every_n_epochs`` validation epochs: samples of p(x) from fixed z, reconstructions
    (originals on odd rows, reconstructions below them) of fixed validation images, and a map of the
    codes: encode(x) of up to 2,000 validation images projected on their two principal axes, coloured by label.

    Files: ``<run dir>/grids/samples_epoch{E:03d}.png``, ``recon_epoch{E:03d}.png`` and ``codes_epoch{E:03d}.png``,
    always; the same images also go to every logger of the run that takes images (:func:`log_image`).
    """

    def __init__(self, every_n_epochs: int = 1, n: int = 64, n_points: int = 2500, seed: int = 0):
        """``n`` images per grid; ``n_points`` points per scatter for vector (2-D toy) data."""
        self.every_n_epochs, self.n, self.n_points, self.seed = every_n_epochs, n, n_points, seed

    @torch.no_grad()
    def images(self, pl_module, x: torch.Tensor) -> dict[str, torch.Tensor]:
        vectors = x.dim() == 2
        n = self.n_points if vectors else self.n
        devices = [pl_module.device] if pl_module.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):  # the same z every epoch; the training RNG is untouched
            torch.manual_seed(self.seed)
            samples = pl_module.sample(n).float().cpu()
        nrow = int(n ** 0.5)
        x = x[: n if vectors else max(nrow, len(x[:n]) // nrow * nrow)].to(pl_module.device)
        recon = pl_module.reconstruct(x).float().cpu()
        if vectors:  # 2-D toy data: density images of samples; of data and reconstructions side by side
            return {"samples": scatter_image(samples), "recon": torch.cat([scatter_image(x.cpu()), scatter_image(recon)], 2)}
        rows = torch.stack([x.cpu().float(), recon]).view(2, -1, nrow, *x.shape[1:]).transpose(0, 1).reshape(-1, *x.shape[1:])
        return {"samples": make_grid(samples, nrow=nrow, pad_value=1.0), "recon": make_grid(rows, nrow=nrow, pad_value=1.0)}

    @torch.no_grad()
    def codes(self, pl_module, x: torch.Tensor, y: torch.Tensor, n: int = 2000) -> torch.Tensor:
        z = torch.cat([pl_module.encode(xb.to(pl_module.device)).float().cpu() for xb in x[:n].split(500)])
        return code_map(z, y[:n])

    def on_validation_epoch_end(self, trainer, pl_module):
        if trainer.sanity_checking or not trainer.is_global_zero or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        if trainer.datamodule is None or not hasattr(trainer.datamodule, "split"):
            return
        x, y = trainer.datamodule.split("val")
        x = pixels(x[: max(self.n, 2000)])  # the images of the grids and the codes' map
        out = run_dir(trainer) / "grids"
        out.mkdir(parents=True, exist_ok=True)
        was_training = pl_module.training
        pl_module.eval()
        images = self.images(pl_module, x) | {"codes": self.codes(pl_module, x, y)}
        pl_module.train(was_training)
        for name, img in images.items():
            save_image(img, out / f"{name}_epoch{trainer.current_epoch:03d}.png")
            for logger in trainer.loggers:
                log_image(logger, f"grids/{name}", img, trainer.global_step)


def log_image(logger, key: str, img: torch.Tensor, step: int) -> bool:
    """Send a (C, H, W) image in [0, 1] to a Lightning logger that takes images: wandb, Neptune and Comet
    (``log_image``), TensorBoard (``add_image``), MLflow (an artifact per step). False for one that takes none (CSV):
    the PNG files in the run folder are written in every case."""
    from lightning.pytorch.loggers import MLFlowLogger, TensorBoardLogger

    if isinstance(logger, TensorBoardLogger):
        logger.experiment.add_image(key, img.clamp(0, 1), step)
    elif isinstance(logger, MLFlowLogger):
        logger.experiment.log_image(logger.run_id, img.clamp(0, 1).permute(1, 2, 0).numpy(),
                                    artifact_file=f"{key}/step{step:07d}.png")
    elif hasattr(logger, "log_image"):
        logger.log_image(key=key, images=[img], step=step)
    else:
        return False
    return True
