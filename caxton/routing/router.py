"""The capability router: which agent should take a request, how sure, and why.

An agent's profile is its capability phrases, its description, its example requests and the
sentences of its prompt and documentation. Routing runs in two stages so its cost stays flat as
agents are added:

1. every agent: the request's similarity to the agent's centroid (the mean of its profile
   vectors): one matrix-vector product over one row per agent;
2. the best `SHORTLIST` of those: the best capability phrase (0.2), the mean of the request's
   three closest example requests (0.4) and prompt/documentation sentences (0.1), lifted by a
   BM25 keyword score over the agent's whole text.

Below `threshold`, "no agent fits" is the answer. Without an embedding model (missing or
corrupt), routing falls back to keywords alone and says so.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from caxton.memory.index import STOPWORDS

if TYPE_CHECKING:
    from caxton.memory.embedder import Embedder

SHORTLIST = 8
TOP_SENTENCES = 3
# score = the weighted stage-2 similarities, lifted toward 1 by keywords. Tuned on the even
# lines of benchmarks/data/routing_eval.jsonl; the odd lines are held out.
WEIGHTS = {"capability": 0.2, "examples": 0.4, "sentences": 0.1}
KEYWORD_WEIGHT = 0.3
DEFAULT_THRESHOLD = 0.46
KEYWORD_THRESHOLD = 0.25
MAX_SENTENCES = 80
PASSAGE = 3
BM25_K1, BM25_B = 1.2, 0.5

Vectors = npt.NDArray[np.float32]
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE_SPLIT = re.compile(r"\n+|(?<=[.!?])\s+")
_SUFFIXES = ("ations", "ation", "ings", "ing", "ers", "er", "ies", "ied", "es", "ed", "ly", "s")


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A light suffix stripper: "validating", "validated", "validates" -> "validat"."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
    return word


def words(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.lower()) if len(w) > 1 and w not in STOPWORDS]


def sentences(text: str) -> list[str]:
    """Sentences worth embedding from prompt or documentation text (3+ words, no templates)."""
    out = []
    for part in _SENTENCE_SPLIT.split(text):
        part = part.strip(" -*#`>\"'0123456789.")
        if len(part.split()) >= 3 and "{{" not in part:
            out.append(part)
    return out[:MAX_SENTENCES]


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """What the router knows of an agent."""

    name: str
    capabilities: tuple[str, ...]
    description: str
    examples: tuple[str, ...] = ()
    text: str = ""  # system prompt and documentation: more words and sentences

    def phrases(self) -> list[str]:
        return [c.replace("-", " ") for c in self.capabilities] or [self.name]

    def sentences(self) -> list[str]:
        """Prompt and documentation text in passages of `PASSAGE` sentences (fewer rows to scan
        per request, and no less accurate on the evaluation set)."""
        found = sentences(self.text)
        passages = [" ".join(found[i : i + PASSAGE]) for i in range(0, len(found), PASSAGE)]
        return passages or [self.description or self.name]

    def example_texts(self) -> list[str]:
        """Example requests; an agent without any stands on its prompt's sentences instead."""
        return list(self.examples) or self.sentences()

    def all_text(self) -> str:
        return " ".join([*self.phrases(), self.description, *self.examples, self.text])


@dataclass(frozen=True, slots=True)
class Candidate:
    agent: str
    score: float
    capability_score: float
    profile_score: float
    keyword_score: float
    best_capability: str | None
    matched_words: tuple[str, ...]
    example_score: float = 0.0

    def explain(self) -> str:
        parts = []
        if self.best_capability is not None:
            parts.append(f"capability {self.best_capability!r} {self.capability_score:.2f}")
            parts.append(f"profile {self.profile_score:.2f}")
            parts.append(f"examples {self.example_score:.2f}")
        if self.matched_words:
            parts.append("words: " + ", ".join(self.matched_words[:5]))
        return "; ".join(parts) or "no overlap"


RouteMethod = Literal["embedding", "keyword", "fallback"]


@dataclass(frozen=True, slots=True)
class RouteResult:
    """The router's answer. `method` "fallback": no agent fits, and the workspace's fallback
    agent takes the request (see `caxton.routing.workspace.with_fallback`); when that agent
    cannot, `fallback_problem` says why."""

    request: str
    chosen: str | None
    candidates: tuple[Candidate, ...]
    method: RouteMethod
    threshold: float
    reason: str
    cached: bool = False
    fallback_problem: str | None = None


@dataclass(slots=True)
class _Embedded:
    capabilities: Vectors
    centroid: npt.NDArray[np.float32]
    examples: Vectors
    sentences: Vectors


@dataclass(slots=True)
class _Compiled:
    profiles: list[AgentProfile]
    centroids: Vectors  # (agents, dim): stage 1 scans only these
    # per agent, one matrix: capability phrases, then examples, then prompt/doc sentences
    stacked: list[Vectors]
    splits: list[tuple[int, int]]  # per agent: where examples and sentences start
    term_counts: list[dict[str, int]]
    term_weights: list[dict[str, float]]  # BM25 weight of each word in each agent's text
    idf: dict[str, float] = field(default_factory=dict)


class Router:
    """Routes requests to agents; `update()` with new profiles re-embeds only what changed."""

    def __init__(
        self, embedder: Embedder | None, *, threshold: float | None = None, cache_size: int = 2048
    ) -> None:
        self.embedder = embedder
        self.threshold = (
            threshold
            if threshold is not None
            else (DEFAULT_THRESHOLD if embedder is not None else KEYWORD_THRESHOLD)
        )
        self._cache: OrderedDict[tuple[str, int], RouteResult] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._embedded: dict[AgentProfile, _Embedded] = {}
        self._compiled: _Compiled | None = None

    @property
    def method(self) -> Literal["embedding", "keyword"]:
        return "embedding" if self.embedder is not None else "keyword"

    def update(self, profiles: Iterable[AgentProfile]) -> int:
        """Replace the set of agents; returns how many profiles had to be embedded."""
        ordered = sorted(profiles, key=lambda p: p.name)
        fresh = [p for p in ordered if p not in self._embedded]
        if self.embedder is not None and fresh:
            texts: list[str] = []
            for p in fresh:
                texts += [*p.phrases(), p.description or p.name, *p.example_texts(), *p.sentences()]
            vectors = self.embedder.embed(texts)
            at = 0
            for p in fresh:
                caps, examples = len(p.phrases()), len(p.example_texts())
                count = caps + 1 + examples + len(p.sentences())
                block = vectors[at : at + count]
                mean = block.mean(axis=0)
                norm = float(np.linalg.norm(mean))
                self._embedded[p] = _Embedded(
                    block[:caps],
                    (mean / norm if norm else mean).astype(np.float32),
                    block[caps + 1 : caps + 1 + examples],
                    block[caps + 1 + examples :],
                )
                at += count
        keep = set(ordered)
        self._embedded = {p: e for p, e in self._embedded.items() if p in keep}
        compiled = self._compile(ordered)
        with self._lock:
            self._compiled = compiled
            self._cache.clear()
        return len(fresh) if self.embedder is not None else 0

    def _compile(self, profiles: list[AgentProfile]) -> _Compiled:
        dim = self.embedder.dim if self.embedder is not None else 1
        embedded = [self._embedded[p] for p in profiles if p in self._embedded]
        term_counts = []
        for p in profiles:
            counts: dict[str, int] = {}
            for w in words(p.all_text()):
                counts[w] = counts.get(w, 0) + 1
            term_counts.append(counts)
        document_frequency: dict[str, int] = {}
        for counts in term_counts:
            for w in counts:
                document_frequency[w] = document_frequency.get(w, 0) + 1
        n = max(len(profiles), 1)
        idf = {w: math.log(1.0 + n / df) for w, df in document_frequency.items()}
        lengths = [sum(c.values()) for c in term_counts]
        average = (sum(lengths) / len(lengths)) if lengths else 1.0
        term_weights = []
        for counts, length in zip(term_counts, lengths, strict=True):
            norm = BM25_K1 * (1 - BM25_B + BM25_B * length / average)
            term_weights.append(
                {w: idf[w] * tf * (BM25_K1 + 1) / (tf + norm) for w, tf in counts.items()}
            )
        return _Compiled(
            profiles=profiles,
            centroids=(
                np.vstack([e.centroid for e in embedded])
                if embedded
                else np.zeros((0, dim), np.float32)
            ),
            stacked=[np.vstack([e.capabilities, e.examples, e.sentences]) for e in embedded],
            splits=[(len(e.capabilities), len(e.capabilities) + len(e.examples)) for e in embedded],
            term_counts=term_counts,
            term_weights=term_weights,
            idf=idf,
        )

    def route(self, request: str, *, top: int = 3) -> RouteResult:
        """The chosen agent (or none) with the `top` candidates; repeats come from a cache."""
        key = (" ".join(request.lower().split()), top)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return dataclasses.replace(cached, request=request, cached=True)
            compiled = self._compiled
        result = self._route(request, compiled, max(top, 1))
        if self._cache_size > 0:
            with self._lock:
                self._cache[key] = result
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return result

    def _route(self, request: str, compiled: _Compiled | None, top: int) -> RouteResult:
        method, threshold = self.method, self.threshold
        if compiled is None or not compiled.profiles:
            return RouteResult(
                request,
                None,
                (),
                method,
                threshold,
                "no agents to route to: add one with `caxton init NAME -t T`",
            )
        count = len(compiled.profiles)
        query_words = set(words(request))
        if self.embedder is None:
            shortlist = np.arange(count)
            keyword = self._bm25(query_words, compiled, shortlist)
            score = keyword
            zeros = np.zeros(count, np.float32)
            capability = centroid_part = examples = zeros
            best_capability = np.full(count, -1, np.intp)
        else:
            query = self.embedder.embed_one(request)
            centroid = compiled.centroids @ query
            shortlist = (
                np.argpartition(-centroid, SHORTLIST - 1)[:SHORTLIST]
                if count > SHORTLIST
                else np.arange(count)
            )
            keyword = self._bm25(query_words, compiled, shortlist)
            size = len(shortlist)
            capability = np.empty(size, np.float32)
            examples = np.empty(size, np.float32)
            sentence_part = np.empty(size, np.float32)
            best_capability = np.empty(size, np.intp)
            for n, agent in enumerate(shortlist):
                sims = compiled.stacked[agent] @ query  # one product per agent
                first_example, first_sentence = compiled.splits[agent]
                strongest = int(sims[:first_example].argmax())
                best_capability[n] = strongest
                capability[n] = sims[strongest]
                examples[n] = _top_mean(sims[first_example:first_sentence])
                sentence_part[n] = _top_mean(sims[first_sentence:])
            centroid_part = centroid[shortlist]
            base = (
                WEIGHTS["capability"] * capability
                + WEIGHTS["examples"] * examples
                + WEIGHTS["sentences"] * sentence_part
            )
            score = base + KEYWORD_WEIGHT * keyword * (1.0 - base)
        order = np.argsort(-score, kind="stable")[:top]
        ranked = tuple(
            self._candidate(
                compiled,
                int(shortlist[r]),
                float(score[r]),
                float(capability[r]),
                float(centroid_part[r]),
                float(examples[r]),
                int(best_capability[r]),
                request,
                float(keyword[r]),
            )
            for r in order
        )
        best = ranked[0]
        if best.score < threshold:
            reason = (
                f"no agent fits: the best, {best.agent!r}, scores {best.score:.2f}, below "
                f"the threshold {threshold:.2f}"
            )
            return RouteResult(request, None, ranked, method, threshold, reason)
        reason = f"{best.agent!r} scores {best.score:.2f} ({best.explain()})"
        if method == "keyword":
            reason += "; keyword fallback: no embedding model"
        return RouteResult(request, best.agent, ranked, method, threshold, reason)

    def _candidate(
        self,
        compiled: _Compiled,
        agent: int,
        score: float,
        capability: float,
        profile: float,
        examples: float,
        best: int,
        request: str,
        keyword: float,
    ) -> Candidate:
        p = compiled.profiles[agent]
        terms = compiled.term_counts[agent]
        matched: list[str] = []  # the request's own words (not their stems), in order
        for word in _WORD.findall(request.lower()):
            if (
                len(word) > 1
                and word not in STOPWORDS
                and stem(word) in terms
                and word not in matched
            ):
                matched.append(word)
        embedded = self.embedder is not None
        return Candidate(
            agent=p.name,
            score=score,
            capability_score=capability,
            profile_score=profile,
            keyword_score=keyword,
            best_capability=p.capabilities[best] if embedded and p.capabilities else None,
            matched_words=tuple(matched),
            example_score=examples,
        )

    @staticmethod
    def _bm25(
        query_words: set[str], compiled: _Compiled, agents: npt.NDArray[np.intp]
    ) -> npt.NDArray[np.float32]:
        """BM25 of the request against each agent's text, scaled to 0..1."""
        out = np.zeros(len(agents), np.float32)
        if not query_words:
            return out
        unknown = math.log(1.0 + len(compiled.profiles))
        ceiling = sum(compiled.idf.get(w, unknown) for w in query_words) * (BM25_K1 + 1) / 3.0
        for n, agent in enumerate(agents):
            weights = compiled.term_weights[agent]
            out[n] = min(1.0, sum(weights.get(w, 0.0) for w in query_words) / ceiling)
        return out


def _top_mean(sims: npt.NDArray[np.float32]) -> float:
    """The mean of the `TOP_SENTENCES` largest similarities."""
    k = min(TOP_SENTENCES, len(sims))
    sims.partition(len(sims) - k)  # in place: the k largest are now last
    return float(sims[-k:].sum()) / k
