"""Routing benchmark: accuracy on the labelled evaluation set, and latency with 10-1,000 agents.

Run: `python benchmarks/bench_routing.py`. Accuracy routes every request in
`benchmarks/data/routing_eval.jsonl` across the ten template agents. Latency is measured without
the cache (every request is new), beside the bare embedding of the request as the reference.
Targets: top-1 >= 90 %; p99 <= 1 ms at 10, 100 and 1,000 agents.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from caxton.memory.embedder import get_embedder
from caxton.routing.router import AgentProfile, Router
from caxton.routing.workspace import profile
from caxton.workspace.templates import template_agents

EVAL = Path(__file__).parent / "data" / "routing_eval.jsonl"


def template_profiles() -> list[AgentProfile]:
    return [profile(config) for config in template_agents()]


def load_eval() -> list[dict[str, Any]]:
    return [json.loads(line) for line in EVAL.read_text().splitlines() if line.strip()]


def accuracy(router: Router, cases: list[dict[str, Any]]) -> dict[str, Any]:
    by_kind: dict[str, list[int]] = {}
    top1 = top1_lenient = top3 = 0
    misses = []
    for case in cases:
        result = router.route(case["request"], top=3)
        expected = case["expected"]
        chosen = result.chosen or "none"
        names = [c.agent for c in result.candidates]
        ok = chosen == expected
        lenient = ok or chosen in case.get("alternatives", [])
        in_top3 = ok or (expected != "none" and expected in names)
        top1 += ok
        top1_lenient += lenient
        top3 += in_top3
        by_kind.setdefault(case["kind"], []).append(int(ok))
        if not ok:
            misses.append(
                (
                    case["request"],
                    expected,
                    chosen,
                    result.candidates[0].score if result.candidates else 0.0,
                )
            )
    n = len(cases)
    return {
        "cases": n,
        "top1": top1 / n,
        "top1_lenient": top1_lenient / n,
        "top3": top3 / n,
        "by_kind": {k: (sum(v) / len(v), len(v)) for k, v in sorted(by_kind.items())},
        "misses": misses,
    }


def latency(agents: int, requests: list[str], embedder: Any) -> dict[str, float]:
    base = template_profiles()
    profiles = [
        AgentProfile(
            f"{p.name}-{i}", p.capabilities, p.description, p.examples, f"{p.text}\nvariant {i}"
        )
        for i in range(agents)
        for p in [base[i % len(base)]]
    ]
    router = Router(embedder, cache_size=0)
    router.update(profiles)
    route_ms, embed_ms = [], []
    for text in requests:
        start = time.perf_counter()
        embedder.embed_one(text)
        embed_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        router.route(text)
        route_ms.append((time.perf_counter() - start) * 1000)
    q = statistics.quantiles(route_ms, n=100)
    return {
        "p50": statistics.median(route_ms),
        "p99": q[98],
        "embed_p50": statistics.median(embed_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    embedder = get_embedder()
    cases = load_eval()
    router = Router(embedder)
    router.update(template_profiles())
    acc = accuracy(router, cases)
    tuned, held_out = accuracy(router, cases[0::2]), accuracy(router, cases[1::2])
    print(f"routing accuracy on {acc['cases']} labelled requests (10 template agents)")
    print(
        f"  weights tuned on the even lines: top-1 {tuned['top1']:.1%}; held-out odd lines: "
        f"top-1 {held_out['top1']:.1%} (with alternatives {held_out['top1_lenient']:.1%})"
    )
    print(
        f"  top-1 {acc['top1']:.1%} (target >= 90%)   top-1 counting acceptable alternatives "
        f"{acc['top1_lenient']:.1%}   top-3 {acc['top3']:.1%}"
    )
    for kind, (value, count) in acc["by_kind"].items():
        print(f"  {kind:10} {value:.1%} of {count}")
    keyword_router = Router(None)
    keyword_router.update(template_profiles())
    kw = accuracy(keyword_router, cases)
    print(f"  keyword fallback alone: top-1 {kw['top1']:.1%}, top-3 {kw['top3']:.1%}")
    if args.show_misses:
        for request, expected, chosen, score in acc["misses"]:
            print(f"    miss: {request[:70]!r} expected {expected}, got {chosen} ({score:.2f})")
    requests = [c["request"] for c in cases] * 3
    print("routing latency, no cache, per request (reference: embedding the request alone)")
    for agents in (10, 100, 1000):
        figures = latency(agents, requests, embedder)
        print(
            f"  {agents:5} agents: p50 {figures['p50']:.3f} ms  p99 {figures['p99']:.3f} ms "
            f"(target <= 1 ms)  embed p50 {figures['embed_p50']:.3f} ms  "
            f"x embed {figures['p50'] / figures['embed_p50']:.2f}"
        )


if __name__ == "__main__":
    main()
