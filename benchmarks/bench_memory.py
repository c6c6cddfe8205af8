"""Memory benchmark: embedder load and RSS, inserts with embeddings, and top-10 search.

Run: `python benchmarks/bench_memory.py` (add `--sizes 10000,100000` to skip the 1M case, which
needs ~3 GB of RAM and a minute or two). Search is measured through `MemoryStore.search` (query
embedding, vector + keyword scoring, loading the hits from DuckDB) beside a plain numpy
brute-force top-10 over the same vectors in the same process: the reference.
Targets: p50 <= 10 ms at 100k and within 2x of numpy; >= 5,000 inserts/s; RSS <= 150 MB.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from caxton.memory.embedder import get_embedder
from caxton.memory.scope import Scope
from caxton.memory.store import MemoryStore

WORDS = """
invoice payment customer order refund shipment warehouse latency outage deploy service database
backup report revenue churn ticket incident alert kubernetes pipeline schema contract vendor
budget forecast inventory supplier region quarter release feature bug
""".split()
QUERIES = [
    "late payments from enterprise customers",
    "checkout latency incident last week",
    "which warehouse ships to the north region",
    "quarterly revenue forecast",
    "refund policy",
    "database backup failed",
    "who owns the billing service",
    "open bugs in the release",
]
AGENT_SCOPES = [Scope("agent", f"agent-{i}") for i in range(10)]
WORKSPACE = Scope("workspace", "bench")


def sentence(rng: np.random.Generator, i: int) -> tuple[str, str, list[str]]:
    words = rng.choice(WORDS, size=8)
    return (f"item-{i}", str(words[0]), [" ".join(words[1:5]), " ".join(words[5:]) + f" #{i}"])


def embedder_load() -> dict[str, float]:
    """In a fresh process: load time and RSS, beside the RSS of python + numpy alone."""
    probe = (
        "import time, numpy\n"
        "def rss():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmRSS:'): return int(line.split()[1]) / 1024\n"
        "base = rss(); start = time.perf_counter()\n"
        "from caxton.memory.embedder import get_embedder\n"
        "e = get_embedder(); e.embed(['warm up'])\n"
        "print(time.perf_counter() - start, base, rss())\n"
    )
    runs = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout.split()
        runs.append([float(x) for x in out])
    load, base, rss = (statistics.median(col) for col in zip(*runs, strict=True))
    return {"load_s": load, "rss_mb": rss, "python_numpy_rss_mb": base}


def inserts(path: Path, count: int, batch: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    items = [sentence(rng, i) for i in range(count)]
    embedder = get_embedder()
    texts = [f"{n} ({t}): " + "; ".join(o) for n, t, o in items]
    start = time.perf_counter()
    embedder.embed(texts)
    embed_only = count / (time.perf_counter() - start)
    with MemoryStore.open(path, embedder) as store:
        start = time.perf_counter()
        for at in range(0, count, batch):
            store.upsert_entities(WORKSPACE, items[at : at + batch])
        rate = count / (time.perf_counter() - start)
    return {"per_s": rate, "embed_only_per_s": embed_only}


def bulk_load(path: Path, count: int, dim: int) -> np.ndarray:
    """Rows with random unit vectors straight into DuckDB (search speed ignores where vectors
    came from); 90% in the workspace scope, 1% in each of ten agent scopes."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(count, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with MemoryStore.open(path) as store:
        con = store._con
        step = 100_000
        for at in range(0, count, step):
            n = min(step, count - at)
            ids = np.arange(at + 1, at + n + 1, dtype=np.int64)
            kinds = np.empty(n, dtype=object)
            owners = np.empty(n, dtype=object)
            for j in range(n):
                i = at + j
                scope = AGENT_SCOPES[i % 10] if i % 100 < 10 else WORKSPACE
                kinds[j], owners[j] = scope.kind, scope.owner
            names = np.empty(n, dtype=object)
            types = np.empty(n, dtype=object)
            observations = np.empty(n, dtype=object)
            blobs = np.empty(n, dtype=object)
            for j in range(n):
                words = rng.choice(WORDS, size=4)
                names[j] = f"item-{at + j}"
                types[j] = str(words[0])
                observations[j] = [" ".join(words[1:])]
                blobs[j] = vectors[at + j].tobytes()
            now = np.array([np.datetime64("2026-01-01")] * n, dtype="datetime64[us]")
            batch = {
                "id": ids,
                "scope_kind": kinds,
                "scope_owner": owners,
                "name": names,
                "type": types,
                "observations": observations,
                "embedding": blobs,
                "created_at": now,
                "updated_at": now,
            }
            con.register("bulk", batch)
            con.execute(
                "INSERT INTO entities SELECT id, scope_kind, scope_owner, name, type, "
                "observations, embedding, created_at, updated_at FROM bulk"
            )
            con.unregister("bulk")
        con.execute(f"SELECT setval('memory_ids', {count + 1})")
    return vectors


def search(path: Path, count: int, vectors: np.ndarray, repeats: int) -> dict[str, Any]:
    embedder = get_embedder()
    start = time.perf_counter()
    store = MemoryStore.open(path, embedder)
    open_s = time.perf_counter() - start
    queries = [embedder.embed_one(q) for q in QUERIES]
    scope_of = np.array([(i % 10 if i % 100 < 10 else -1) for i in range(count)])
    out: dict[str, Any] = {"open_s": open_s}
    cases = {"unscoped": None, "workspace (90%)": WORKSPACE, "agent (1%)": AGENT_SCOPES[3]}
    for label, scope in cases.items():
        mask = (
            None if scope is None else (scope_of == -1) if scope == WORKSPACE else (scope_of == 3)
        )
        ours, reference = [], []
        for r in range(repeats):
            text = QUERIES[r % len(QUERIES)]
            t = time.perf_counter()
            hits = store.search(scope, text, limit=10, kinds=("entity",))
            ours.append((time.perf_counter() - t) * 1000)
            assert len(hits) == 10
            q = queries[r % len(queries)]
            t = time.perf_counter()
            if mask is None:
                scores = vectors @ q
            else:
                rows = np.flatnonzero(mask)
                scores = vectors[rows] @ q
            top = np.argpartition(-scores, 9)[:10]
            top[np.argsort(-scores[top])]
            reference.append((time.perf_counter() - t) * 1000)
        out[label] = (
            statistics.median(ours),
            statistics.quantiles(ours, n=100)[98],
            statistics.median(reference),
        )
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--inserts", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=60)
    args = parser.parse_args()
    load = embedder_load()
    print(
        f"embedder: load {load['load_s'] * 1000:.0f} ms, RSS after load {load['rss_mb']:.0f} MB "
        f"(python + numpy alone {load['python_numpy_rss_mb']:.0f} MB; target <= 150 MB)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        rate = inserts(Path(tmp) / "insert.duckdb", args.inserts, batch=1000)
        print(
            f"insert with embedding, batches of 1000: {rate['per_s']:,.0f} entities/s "
            f"(target >= 5,000; embedding alone {rate['embed_only_per_s']:,.0f}/s)"
        )
        for size in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"search-{size}.duckdb"
            vectors = bulk_load(path, size, get_embedder().dim)
            figures = search(path, size, vectors, args.repeats)
            print(
                f"search top-10 over {size:,} entities (open + index load "
                f"{figures['open_s']:.1f} s):"
            )
            for label in ("unscoped", "workspace (90%)", "agent (1%)"):
                p50, p99, ref = figures[label]
                print(
                    f"  {label:16} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms   numpy reference "
                    f"p50 {ref:7.2f} ms   x numpy {p50 / ref:5.2f}"
                )
            path.unlink()


if __name__ == "__main__":
    main()
