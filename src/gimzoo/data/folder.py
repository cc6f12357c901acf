"""``ImageFolder``: any folder of images (PNG, JPEG, WebP, ...), decoded once into a uint8 cache.

    gimzoo fit --config zoo_configs/vae-mnist.yaml --data gimzoo.data.ImageFolder --data.root photos/ \
        --data.image_size 28 --data.channels 1

* Labels come from subfolder names (``root/<class>/**/image``, classes sorted by name), so the probes and the
  clustering metrics work; a folder without subfolders has no labels (-1), and the metrics that need them are
  reported as n/a.
* Each image is resized so that its short side is ``image_size``, then centre-cropped to a square (no
  ``image_size``: every image must already have one size), and converted to ``channels`` (1: grey, 3: RGB).
* The images are decoded once, by a pool of threads, into ``images.u8`` (uint8, N x C x H x W, shape in the index)
  and ``labels.npy`` with an ``index.json``, under ``<cache>/folders/<key>/``; the key hashes the files (paths, sizes, mtimes) and the
  settings. The cache is written in a temporary folder that is renamed into place when complete, so a killed
  decode leaves nothing half-written. Later runs open it as a memory map and decode nothing.
* The cache holds the images in split order (test, validation, training: a permutation of the seed), so each split
  is a slice of the memory map: batches are read from it and turned into floats one batch at a time, and the pages
  read are released every few dozen batches, so training memory stays near a batch, not the dataset.
"""
from __future__ import annotations

import hashlib
import json
import mmap
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from .base import DatasetNotFoundError, InMemoryDataModule, data_root
from .batches import TensorBatches

EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
CACHE_VERSION = 2
#: the splits, in their order in the cache
SPLITS = ("test", "val", "train")
#: files decoded at a time (memory while decoding stays near this many images)
DECODE_CHUNK = 4096
#: batches between two releases of the memory map's pages
RELEASE_EVERY = 64


def cache_root() -> Path:
    """``$GIMZOO_CACHE`` or ``~/.cache/gimzoo``; folders are cached under ``folders/``."""
    base = os.environ.get("GIMZOO_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gimzoo"
    return Path(base) / "folders"


def list_images(root: Path) -> tuple[list[Path], list[int], list[str]]:
    """(files, labels, classes): with subfolders, the images under each (label = the subfolder's rank by name);
    without, the images in ``root`` with label -1."""
    if not root.is_dir():
        raise FileNotFoundError(f"ImageFolder: {root} is not a folder")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    found = ([(p, i) for i, c in enumerate(classes) for p in sorted((root / c).rglob("*"))] if classes
             else [(p, -1) for p in sorted(root.iterdir())])
    found = [(p, y) for p, y in found if p.suffix.lower() in EXTENSIONS and p.is_file()]
    if not found:
        raise ValueError(f"ImageFolder: no images ({', '.join(sorted(EXTENSIONS))}) in {root}"
                         + (f" or its subfolders {classes[:5]}" if classes else ""))
    return [p for p, _ in found], [y for _, y in found], classes


def decode(path: Path, image_size: int | None, channels: int) -> np.ndarray:
    """One image as uint8 (C, H, W): ``channels`` 1 or 3; short side resized to ``image_size`` and centre-cropped."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("L" if channels == 1 else "RGB")
        if image_size is not None:
            w, h = im.size
            scale = image_size / min(w, h)
            size = (max(image_size, round(w * scale)), max(image_size, round(h * scale)))
            if size != im.size:
                im = im.resize(size, Image.BICUBIC)
            left, top = (size[0] - image_size) // 2, (size[1] - image_size) // 2
            im = im.crop((left, top, left + image_size, top + image_size))
        a = np.asarray(im, dtype=np.uint8)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


class ImageFolder(InMemoryDataModule):
    """Any folder of images; see the module docstring."""

    name = "folder"

    def __init__(self, root: str, image_size: int | None = None, channels: int = 3, skip_bad_files: bool = False,
                 val_size: int | float = 0.05, test_size: int | float = 0.1, batch_size: int = 128,
                 eval_batch_size: int = 1000, seed: int = 0, cache_dir: str | None = None, workers: int | None = None):
        """
        Args:
            root: the folder (labels from its subfolders, if it has any).
            image_size: the side of the square images (short side resized, then centre-cropped); None: the files'
                own size, which must be the same for all.
            channels: 1 (grey) or 3 (RGB).
            skip_bad_files: skip unreadable or corrupt files (their number is reported) instead of failing.
            val_size, test_size: images in the validation and test splits (a fraction if below 1).
            cache_dir: where the decoded cache lives (default ``$GIMZOO_CACHE/folders``).
            workers: decoding threads (default: the CPU count).
        """
        super().__init__(batch_size=batch_size, eval_batch_size=eval_batch_size, val_size=0, seed=seed)
        if channels not in (1, 3):
            raise ValueError(f"ImageFolder: channels must be 1 or 3, got {channels}")
        if image_size is not None and image_size < 1:
            raise ValueError(f"ImageFolder: image_size must be a positive integer, got {image_size}")
        self.folder, self.image_size, self.channels = Path(root).expanduser(), image_size, channels
        self.skip_bad_files, self.sizes = skip_bad_files, {"val": val_size, "test": test_size}
        self.cache_dir, self.workers = cache_dir, workers
        self.report: dict = {}

    @property
    def data_shape(self) -> tuple[int, int, int]:
        if self.image_size is not None:
            return self.channels, self.image_size, self.image_size
        if self.report:
            return tuple(self.report["shape"])
        return tuple(decode(self.listing()[0][0], None, self.channels).shape)

    # -- the cache ----------------------------------------------------------------------------------------
    def _count(self, what: str, n: int) -> int:
        v = self.sizes[what]
        count = int(round(v * n)) if isinstance(v, float) and v < 1 else int(v)
        if count < 0:
            raise ValueError(f"ImageFolder: {what}_size must be >= 0, got {v}")
        return count

    def cache_key(self, files: list[Path]) -> str:
        h = hashlib.sha256()
        for p in files:
            st = p.stat()
            h.update(f"{p.relative_to(self.folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        settings = {"version": CACHE_VERSION, "dataset": self.name, "image_size": self.image_size,
                    "channels": self.channels, "skip_bad_files": self.skip_bad_files, "seed": self.seed,
                    "sizes": self.sizes}
        h.update(json.dumps(settings, sort_keys=True).encode())
        return h.hexdigest()[:24]

    # -- hooks for datasets that are image folders with rules of their own (CelebA64) ---------------------
    def listing(self) -> tuple[list[Path], list[int], list[str], list[str] | None]:
        """(files, labels, classes, parts): parts names each file's split where the dataset fixes them, else None
        (the splits are then drawn from the seed)."""
        return (*list_images(self.folder), None)

    def decode_one(self, path: Path) -> np.ndarray:
        return decode(path, self.image_size, self.channels)

    def arrange(self, n: int, parts: list[str] | None) -> np.ndarray:
        """The order of the files in the cache: test, then validation, then training images (by the dataset's own parts
        where it has them, else a permutation of the seed whose first images are the test split, and so on)."""
        if parts is not None:
            return np.asarray([i for k in SPLITS for i in range(n) if parts[i] == k], dtype=np.int64)
        return torch.randperm(n, generator=torch.Generator().manual_seed(self.seed)).numpy()

    def split_sizes(self, kept: list[int], parts: list[str] | None) -> dict[str, int]:
        if parts is not None:
            return {k: sum(parts[i] == k for i in kept) for k in SPLITS}
        n_test, n_val = self._count("test", len(kept)), self._count("val", len(kept))
        if n_test + n_val >= len(kept):
            raise ValueError(f"ImageFolder: test ({n_test}) and validation ({n_val}) images leave none of the "
                             f"{len(kept)} for training")
        return {"test": n_test, "val": n_val, "train": len(kept) - n_test - n_val}

    def build_cache(self, files: list[Path], labels: list[int], classes: list[str], parts: list[str] | None,
                    target: Path) -> None:
        """Decode the files in cache order (:meth:`arrange`), ``DECODE_CHUNK`` at a time by a pool of threads, appending
        each readable image's bytes to ``images.u8`` (memory stays near a chunk); then the labels and the index, and
        the temporary folder is renamed into place."""
        t0 = time.time()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
        try:
            order, kept, shape = self.arrange(len(files), parts), [], None
            with open(tmp / "images.u8", "wb") as out, ThreadPoolExecutor(self.workers or os.cpu_count()) as pool:
                for start in range(0, len(order), DECODE_CHUNK):
                    chunk = order[start:start + DECODE_CHUNK]
                    for i, a in zip(chunk, pool.map(self._decode_or_skip, [files[i] for i in chunk])):
                        if a is None:
                            continue
                        if shape is None:
                            shape, first = a.shape, i
                        elif a.shape != shape:
                            (_, h0, w0), (_, h, w) = shape, a.shape
                            raise ValueError(f"ImageFolder: images of different sizes ({files[first]}: {h0}x{w0}, "
                                             f"{files[i]}: {h}x{w}); set image_size to resize them to one")
                        out.write(np.ascontiguousarray(a).tobytes())
                        kept.append(int(i))
            if not kept:
                raise ValueError(f"ImageFolder: none of the {len(files)} files in {self.folder} could be read")
            np.save(tmp / "labels.npy", np.asarray(labels, dtype=np.int64)[kept])
            skipped = sorted(set(range(len(files))) - set(kept))
            index = {"root": str(self.folder), "n": len(kept), "shape": list(shape), "classes": classes,
                     "splits": self.split_sizes(kept, parts),
                     "skipped": [str(files[i].relative_to(self.folder)) for i in skipped],
                     "decode_seconds": round(time.time() - t0, 2)}
            (tmp / "index.json").write_text(json.dumps(index, indent=1) + "\n")
            try:
                os.replace(tmp, target)
            except OSError:  # another process finished the same cache first: keep theirs
                if not (target / "index.json").is_file():
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)

    def _decode_or_skip(self, path: Path) -> np.ndarray | None:
        try:
            return self.decode_one(path)
        except Exception as e:  # PIL raises many kinds for a corrupt file
            if self.skip_bad_files:
                return None
            raise ValueError(f"ImageFolder: cannot read {path} ({type(e).__name__}: {e}); fix or remove it, or pass "
                             "skip_bad_files: true") from e

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        self.prepare_data()
        files, labels, classes, parts = self.listing()
        target = (Path(self.cache_dir) if self.cache_dir else cache_root()) / self.cache_key(files)
        if not (target / "index.json").is_file():
            self.build_cache(files, labels, classes, parts, target)
        self.report = json.loads((target / "index.json").read_text()) | {"cache": str(target)}
        if self.report["skipped"]:
            print(f"ImageFolder: skipped {len(self.report['skipped'])} unreadable file(s) of {len(files)} "
                  f"(first: {self.report['skipped'][0]})")
        self._images = np.memmap(target / "images.u8", dtype=np.uint8, mode="c",  # copy-on-write: nothing is written
                                 shape=(self.report["n"], *self.report["shape"]))
        x, y = torch.from_numpy(self._images), torch.from_numpy(np.load(target / "labels.npy"))
        ends = np.cumsum([self.report["splits"][k] for k in SPLITS])
        self.splits = {k: (x[a:b], y[a:b]) for k, a, b in zip(SPLITS, [0, *ends[:-1]], ends)}

    def release(self) -> None:
        """Let the kernel drop the pages of the memory map read so far (they are read again from the file if needed):
        training memory then stays near a few batches, not the part of the dataset an epoch has touched."""
        if getattr(self, "_images", None) is not None:
            self._images._mmap.madvise(mmap.MADV_DONTNEED)

    def _batches(self, split: str, batch_size: int, train: bool) -> TensorBatches:
        batches = super()._batches(split, batch_size, train)
        batches.release, batches.release_every = self.release, RELEASE_EVERY
        return batches


class CelebA64(ImageFolder):
    """CelebA's aligned faces as 3x64x64: a 140x140 centre crop resized to 64 (the WAE paper's preprocessing), with
    the official splits (162,770 training, 19,867 validation, 19,962 test images) and no labels. torchvision's
    layout under the data root (``celeba/img_align_celeba/*.jpg``, ``celeba/list_eval_partition.txt``), decoded
    once into the uint8 cache like any image folder."""

    name = "celeba64"
    CROP, SIZE = 140, 64
    PARTS = {"0": "train", "1": "val", "2": "test"}

    def __init__(self, batch_size: int = 100, eval_batch_size: int = 1000, seed: int = 0, data_dir: str | None = None,
                 download: bool = True, cache_dir: str | None = None, workers: int | None = None):
        super().__init__(str(data_root(data_dir) / "celeba"), image_size=self.SIZE, channels=3, batch_size=batch_size,
                         eval_batch_size=eval_batch_size, seed=seed, cache_dir=cache_dir, workers=workers)
        self.data_dir, self.download = data_dir, download

    data_shape = (3, SIZE, SIZE)  # a class attribute, as the other datasets have it (no file is opened for it)

    def prepare_data(self) -> None:
        if (self.folder / "img_align_celeba").is_dir() and (self.folder / "list_eval_partition.txt").is_file():
            return
        how = (f"Put torchvision's CelebA files (img_align_celeba/, list_eval_partition.txt) in {self.folder}, point "
               "GIMZOO_DATA or --data.data_dir at the folder above it, or pass --data.download true with internet access.")
        if not self.download:
            raise DatasetNotFoundError(f"celeba64: no CelebA in {self.folder}. {how}")
        import torchvision

        try:
            torchvision.datasets.CelebA(str(self.folder.parent), split="all", target_type=[], download=True)
        except Exception as e:  # network and Google Drive quota errors come in many types
            raise DatasetNotFoundError(f"celeba64: no CelebA in {self.folder} and the download failed ({e}). {how}") from e

    def listing(self) -> tuple[list[Path], list[int], list[str], list[str] | None]:
        rows = [line.split() for line in (self.folder / "list_eval_partition.txt").read_text().splitlines() if line.strip()]
        files = [self.folder / "img_align_celeba" / name for name, _ in rows]
        return files, [-1] * len(files), [], [self.PARTS[part] for _, part in rows]

    def decode_one(self, path: Path) -> np.ndarray:
        """The centre 140x140 of the aligned face, resized to 64x64."""
        from PIL import Image

        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            left, top = (w - self.CROP) // 2, (h - self.CROP) // 2
            im = im.crop((left, top, left + self.CROP, top + self.CROP)).resize((self.SIZE, self.SIZE), Image.BICUBIC)
            return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)


def export_images(datamodule, split: str, out: str | os.PathLike) -> int:
    """Write a split of a datamodule as PNG files, ``<out>/<label>/<split>-<index>.png`` (lossless: an ImageFolder of the
    same size reads back the same uint8 values). Returns the number of files."""
    from PIL import Image

    x, y = datamodule.split(split)
    if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"export_images writes uint8 image datasets (N, 1 or 3, H, W), got {x.dtype} {tuple(x.shape)}")
    out = Path(out)
    for label in y.unique().tolist():
        (out / str(label)).mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(x.numpy(), y.tolist())):
        Image.fromarray(image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)).save(
            out / str(label) / f"{split}-{i:05d}.png")
    return len(x)
