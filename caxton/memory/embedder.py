"""The embedding model: a model2vec static model shipped inside the package, loaded once.

No torch, no network: the model is a folder of files in `caxton/memory/model/` (rebuilt by
`scripts/build_embedder.py`). `CAXTON_EMBEDDER` points at another local model2vec folder.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from caxton.errors import CaxtonError, ExitCode

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

SHIPPED_MODEL = Path(__file__).parent / "model"
REQUIRED_FILES = ("config.json", "tokenizer.json", "model.safetensors")


class EmbedderError(CaxtonError):
    """The embedding model cannot be loaded: missing, corrupt, or not a model2vec folder."""

    exit_code = ExitCode.IO


class Embedder:
    """Turns texts into L2-normalised float32 vectors (rows), thread-safe."""

    def __init__(self, model: Any, path: Path) -> None:
        self._model = model
        self.path = path
        self.dim = int(model.dim)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encoded = self._model.encode(list(texts), use_multiprocessing=False)
        vectors: npt.NDArray[np.float32] = np.asarray(encoded, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        np.divide(vectors, norms, out=vectors, where=norms > 0)
        return vectors

    def embed_one(self, text: str) -> npt.NDArray[np.float32]:
        vector: npt.NDArray[np.float32] = self.embed([text])[0]
        return vector


_lock = threading.Lock()
_loaded: dict[Path, Embedder] = {}


def model_path() -> Path:
    configured = os.environ.get("CAXTON_EMBEDDER")
    return Path(configured).expanduser() if configured else SHIPPED_MODEL


def get_embedder(path: Path | None = None) -> Embedder:
    """The process-wide embedder for `path` (default: `CAXTON_EMBEDDER` or the shipped model)."""
    path = (path or model_path()).resolve()
    with _lock:
        embedder = _loaded.get(path)
        if embedder is None:
            embedder = _load(path)
            _loaded[path] = embedder
        return embedder


def _fix_hint(path: Path) -> str:
    if path == SHIPPED_MODEL.resolve():
        return "reinstall Caxton (`pip install --force-reinstall caxton`) to restore its model"
    return "point CAXTON_EMBEDDER at a model2vec folder, or unset it to use the shipped model"


def _load(path: Path) -> Embedder:
    if not path.is_dir():
        raise EmbedderError(f"the embedding model folder `{path}` does not exist", _fix_hint(path))
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise EmbedderError(
            f"the embedding model at `{path}` is missing {', '.join(missing)}", _fix_hint(path)
        )
    # model2vec falls back to downloading from a hub for paths it cannot read; never let it.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from model2vec import StaticModel

    try:
        model = StaticModel.from_pretrained(path, force_download=False)
        model.encode(["probe"], use_multiprocessing=False)
    except Exception as exc:
        raise EmbedderError(
            f"the embedding model at `{path}` is corrupt: {type(exc).__name__}: {exc}",
            _fix_hint(path),
        ) from exc
    return Embedder(model, path)
