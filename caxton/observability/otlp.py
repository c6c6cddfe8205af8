"""OTLP export: each execution's spans, sent to an OpenTelemetry collector over HTTP/protobuf.

Off unless the server is given an endpoint. `export()` only queues; one background thread
converts our spans (keeping their ids and times) and sends them in batches. A collector that
is down never fails a request: failures are counted and logged once per run of failures.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import caxton
from caxton.errors import UsageError
from caxton.observability.trace import ERROR, Span

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.util.types import AttributeValue

    from caxton.runtime.executor import ExecutionResult

log = logging.getLogger("caxton.server")

TRACES_PATH = "/v1/traces"
MAX_QUEUED = 1_000  # executions waiting to be sent; past this, new ones are dropped
MAX_BATCH = 64  # executions per request to the collector
SDK_LOGGER = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
CLIENT_KINDS = frozenset({"llm", "tool"})  # calls that leave the agent: to a model, to a tool


def endpoint_from_env(environ: Mapping[str, str]) -> str | None:
    """The collector named by the standard OpenTelemetry variables, if any."""
    for key in ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        if value := environ.get(key, "").strip():
            return value
    return None


def traces_url(endpoint: str) -> str:
    """`http://host:4318` becomes `http://host:4318/v1/traces`; a full URL stays as it is."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


@dataclass(frozen=True, slots=True)
class _Execution:
    workspace: str
    agent: str
    stop_reason: str
    spans: tuple[Span, ...]


class _Capture(logging.Filter):
    """Keeps the SDK's own lines about our sends out of the log (we log one warning per run
    of failures instead) and remembers the first of each send: it names the cause."""

    def __init__(self, thread: threading.Thread) -> None:
        super().__init__()
        self.thread = thread
        self.first = ""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.thread != self.thread.ident:
            return True
        self.first = self.first or record.getMessage()
        return False


class OtlpExporter:
    """Sends executions' traces to `endpoint` (an OTLP/HTTP base URL) from a background thread.

    `failures` counts the executions whose spans could not be delivered (the collector
    refused or was unreachable, or the queue was full)."""

    def __init__(
        self,
        endpoint: str,
        *,
        headers: Mapping[str, str] | None = None,
        service_name: str = "caxton",
        timeout: float = 10.0,
    ) -> None:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise UsageError(
                "OTLP export needs the `otlp` extra", "`pip install 'caxton[otlp]'`"
            ) from exc
        self.endpoint = traces_url(endpoint)
        self.service_name = service_name
        self.failures = 0
        self._exporter = OTLPSpanExporter(
            endpoint=self.endpoint, headers=dict(headers) if headers else None, timeout=timeout
        )
        self._resources: dict[str, Resource] = {}
        self._queue: queue.SimpleQueue[_Execution | None] = queue.SimpleQueue()
        self._pending = 0  # queued or being sent
        self._done = threading.Condition()
        self._failing = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="caxton-otlp", daemon=True)
        self._capture = _Capture(self._thread)
        logging.getLogger(SDK_LOGGER).addFilter(self._capture)
        self._thread.start()

    def export(self, result: ExecutionResult, workspace: str) -> None:
        """Queue `result`'s spans; returns at once."""
        now = time.time()
        spans = tuple(
            replace(s, end=s.end if s.end is not None else now, attributes=dict(s.attributes))
            for s in list(result.trace.spans)
        )
        with self._done:
            if self._closed:
                return
            if self._pending >= MAX_QUEUED:
                self._failed(1, f"more than {MAX_QUEUED} executions waiting; dropped one")
                return
            self._pending += 1
        self._queue.put(_Execution(workspace, result.agent, result.stop_reason, spans))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far has been sent (or failed); False on timeout."""
        with self._done:
            return self._done.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Send what is queued, then stop the thread. Later exports are ignored."""
        with self._done:
            if self._closed:
                return
            self._closed = True
        self._queue.put(None)
        self._thread.join(timeout)
        self._exporter.shutdown()  # type: ignore[no-untyped-call]
        logging.getLogger(SDK_LOGGER).removeFilter(self._capture)

    # ----- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._send(batch)
            with self._done:
                self._pending -= len(batch)
                self._done.notify_all()

    def _send(self, batch: list[_Execution]) -> None:
        from opentelemetry.sdk.trace.export import SpanExportResult

        self._capture.first = ""
        try:
            spans = [span for execution in batch for span in self._convert(execution)]
            sent = self._exporter.export(spans) is SpanExportResult.SUCCESS
        except Exception as exc:  # a bug here must not kill the thread
            self._capture.first = f"{type(exc).__name__}: {exc}"
            sent = False
        if not sent:
            self._failed(len(batch), self._capture.first or "the collector did not accept them")
            return
        with self._done:
            if self._failing:
                self._failing = False
                log.info("OTLP export to %s works again", self.endpoint)

    def _failed(self, executions: int, why: str) -> None:
        with self._done:  # a re-entrant lock: `export` calls this holding it
            self.failures += executions
            if self._failing:
                return
            self._failing = True
            log.warning(
                "OTLP export to %s failed (%s); traces are dropped until it works again",
                self.endpoint,
                why,
            )

    def _convert(self, execution: _Execution) -> list[ReadableSpan]:
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope
        from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

        resource = self._resource(execution.workspace)
        scope = InstrumentationScope("caxton", caxton.__version__)
        flags = TraceFlags(TraceFlags.SAMPLED)
        converted = []
        for span in execution.spans:
            trace_id = int(span.trace_id, 16)
            attributes = {
                k: a for k, v in span.attributes.items() if (a := attribute(v)) is not None
            }
            attributes["caxton.agent"] = execution.agent
            attributes["caxton.span.kind"] = span.kind
            parent = None
            if span.parent_id is None:
                attributes["caxton.stop_reason"] = execution.stop_reason
            else:
                parent = SpanContext(trace_id, int(span.parent_id, 16), False, flags)
            status = (
                Status(StatusCode.ERROR, str(span.attributes.get(ERROR) or "error"))
                if span.status == "error"
                else Status(StatusCode.OK)
            )
            start = int(span.start * 1e9)
            converted.append(
                ReadableSpan(
                    span.name,
                    SpanContext(trace_id, int(span.span_id, 16), False, flags),
                    parent,
                    resource,
                    attributes,
                    kind=SpanKind.CLIENT if span.kind in CLIENT_KINDS else SpanKind.INTERNAL,
                    status=status,
                    start_time=start,
                    end_time=max(start, int((span.end or span.start) * 1e9)),
                    instrumentation_scope=scope,
                )
            )
        return converted

    def _resource(self, workspace: str) -> Resource:
        from opentelemetry.sdk.resources import Resource

        if workspace not in self._resources:
            self._resources[workspace] = Resource.create(
                {
                    "service.name": self.service_name,
                    "service.version": caxton.__version__,
                    "caxton.workspace": workspace,
                }
            )
        return self._resources[workspace]


def attribute(value: Any) -> AttributeValue | None:
    """A span attribute as OpenTelemetry takes it: primitives and lists of one primitive type
    as they are, None dropped, anything else as JSON."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple):
        types = {type(v) for v in value}
        if len(types) <= 1 and types <= {str, bool, int, float}:
            return tuple(value)
    return json.dumps(value, default=str, ensure_ascii=False)
