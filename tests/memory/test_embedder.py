"""The shipped embedding model: offline, loaded once, and clear errors when it is broken."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from caxton.memory.embedder import SHIPPED_MODEL, Embedder, EmbedderError, get_embedder


def test_shipped_model_embeds_normalised_vectors(embedder: Embedder) -> None:
    vectors = embedder.embed(["analyze sales data in a csv", "", "book a flight to Paris"])
    assert vectors.shape == (3, 256) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[[0, 2]], axis=1), 1.0, atol=1e-5)
    related = embedder.embed_one("statistical analysis of spreadsheets") @ vectors[0]
    assert related > vectors[2] @ vectors[0] + 0.2


def test_loaded_once_per_process(embedder: Embedder) -> None:
    assert get_embedder() is embedder


def test_the_model_and_its_notice_ship_in_the_package() -> None:
    names = {p.name for p in SHIPPED_MODEL.iterdir()}
    assert {"config.json", "tokenizer.json", "model.safetensors"} <= names
    assert any(n.upper().startswith(("NOTICE", "LICENSE")) for n in names)


def test_no_torch_and_no_network_needed() -> None:
    probe = (
        "import sys, socket\n"
        "def refuse(*a, **k): raise RuntimeError('network!')\n"
        "socket.socket.connect = refuse\n"
        "from caxton.memory.embedder import get_embedder\n"
        "get_embedder().embed(['hello'])\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", "HOME": "/nonexistent"},
    )
    assert done.stdout.strip() == "False"


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(EmbedderError) as caught:
        get_embedder(tmp_path / "nowhere")
    assert "does not exist" in caught.value.message
    assert "CAXTON_EMBEDDER" in str(caught.value.hint)


def test_missing_file(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(SHIPPED_MODEL, copy)
    (copy / "tokenizer.json").unlink()
    with pytest.raises(EmbedderError, match=r"missing tokenizer\.json"):
        get_embedder(copy)


def test_corrupt_weights(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(SHIPPED_MODEL, copy)
    (copy / "model.safetensors").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(EmbedderError) as caught:
        get_embedder(copy)
    assert "is corrupt" in caught.value.message and str(copy) in caught.value.message
