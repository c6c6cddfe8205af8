"""OTLP export against a real OTLP/HTTP receiver on loopback: what arrives is what was traced."""

from __future__ import annotations

import logging
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status as PbStatus

import caxton
from caxton.errors import UsageError
from caxton.observability.otlp import OtlpExporter, attribute, endpoint_from_env, traces_url
from caxton.runtime.runtime import Runtime


class Receiver:
    """An OTLP/HTTP trace receiver: decodes each POST /v1/traces, answers `status`."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.paths.append(self.path)
                receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                if self.path == "/v1/traces" and receiver.status == 200:
                    receiver.requests.append(ExportTraceServiceRequest.FromString(body))
                    answer = ExportTraceServiceResponse().SerializeToString()
                    self.send_response(200)
                else:
                    answer = b"no"
                    self.send_response(404 if self.path != "/v1/traces" else receiver.status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def spans(self) -> list[PbSpan]:
        return [
            span
            for request in self.requests
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        ]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def exporter(receiver: Receiver) -> Iterator[OtlpExporter]:
    e = OtlpExporter(receiver.url, headers={"x-test": "1"}, timeout=2)
    yield e
    e.close()


@pytest.fixture
def runtime(workspace: Path) -> Iterator[Runtime]:
    r = Runtime(workspace, model="test")
    yield r
    r.close()


def value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value(item) for item in v.array_value.values]
    return getattr(v, kind) if kind else None


def attrs(kvs: Any) -> dict[str, Any]:
    pairs: list[KeyValue] = list(kvs)
    return {kv.key: value(kv.value) for kv in pairs}


def test_an_execution_arrives_as_it_was_traced(
    runtime: Runtime, exporter: OtlpExporter, receiver: Receiver
) -> None:
    result = runtime.execute("hello there", agent="assistant")
    exporter.export(result, "my-ws")
    assert exporter.flush(5)
    assert receiver.paths == ["/v1/traces"] and exporter.failures == 0
    assert receiver.headers[0]["x-test"] == "1"
    assert receiver.headers[0]["content-type"] == "application/x-protobuf"

    (request,) = receiver.requests
    (resource,) = request.resource_spans
    assert attrs(resource.resource.attributes).items() >= {
        ("service.name", "caxton"),
        ("service.version", caxton.__version__),
        ("caxton.workspace", "my-ws"),
    }
    ours = {s.span_id: s for s in result.trace.spans}
    got = receiver.spans()
    assert len(got) == len(ours)
    for span in got:
        mine = ours[span.span_id.hex()]
        a = attrs(span.attributes)
        assert span.trace_id.hex() == result.trace.trace_id == mine.trace_id
        assert span.parent_span_id.hex() == (mine.parent_id or "")
        assert span.name == mine.name and a["caxton.span.kind"] == mine.kind
        assert a["caxton.agent"] == "assistant"
        client = mine.kind in ("llm", "tool")
        assert span.kind == (PbSpan.SPAN_KIND_CLIENT if client else PbSpan.SPAN_KIND_INTERNAL)
        assert mine.end is not None
        assert abs(span.start_time_unix_nano - mine.start * 1e9) < 1e4  # ns, not s or ms
        assert abs(span.end_time_unix_nano - mine.end * 1e9) < 1e4
        assert 10**18 < span.start_time_unix_nano <= span.end_time_unix_nano
        if mine.status == "error":
            assert span.status.code == PbStatus.STATUS_CODE_ERROR
            assert span.status.message == mine.attributes["caxton.error"]
        else:
            assert span.status.code == PbStatus.STATUS_CODE_OK

    by_kind = {
        kind: [(s, attrs(s.attributes)) for s in got if ours[s.span_id.hex()].kind == kind]
        for kind in ("request", "llm", "tool")
    }
    ((root, root_attrs),) = by_kind["request"]
    assert root_attrs["caxton.stop_reason"] == "done" and not root.parent_span_id
    llm = by_kind["llm"]
    assert llm and all(a["gen_ai.response.model"] == "test" for _, a in llm)
    assert all(a["gen_ai.usage.input_tokens"] > 0 for _, a in llm)
    assert sum(a["gen_ai.usage.output_tokens"] for _, a in llm) == result.usage.output_tokens
    assert all(isinstance(a["gen_ai.response.finish_reasons"], list) for _, a in llm)
    tools = {a["gen_ai.tool.name"] for _, a in by_kind["tool"]}
    assert tools == {s.attributes["gen_ai.tool.name"] for s in ours.values() if s.kind == "tool"}
    errored = [s for s in got if s.status.code == PbStatus.STATUS_CODE_ERROR]
    assert errored, "the assistant's lone `delegate` call should fail: no agent to ask"


def test_close_sends_what_is_queued(
    runtime: Runtime, exporter: OtlpExporter, receiver: Receiver
) -> None:
    result = runtime.execute("hi", agent="assistant")
    for _ in range(3):
        exporter.export(result, "my-ws")
    exporter.close()
    assert len(receiver.spans()) == 3 * len(result.trace.spans)
    exporter.export(result, "my-ws")  # after close: ignored, never raises
    assert exporter.failures == 0


def test_a_refusing_collector_is_counted_and_logged_once(
    runtime: Runtime,
    exporter: OtlpExporter,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = runtime.execute("hi", agent="assistant")
    receiver.status = 500
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            exporter.export(result, "my-ws")
            assert exporter.flush(5)
        assert exporter.failures == 3 and receiver.requests == []
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [r.name for r in warnings] == ["caxton.server"]  # once; the SDK's lines held back
        assert receiver.url in warnings[0].getMessage() and "500" in warnings[0].getMessage()

        receiver.status = 200
        exporter.export(result, "my-ws")
        assert exporter.flush(5)
    assert exporter.failures == 3 and len(receiver.requests) == 1
    assert "works again" in caplog.records[-1].getMessage()


def test_an_unreachable_collector_never_fails_the_caller(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    exporter = OtlpExporter(f"http://127.0.0.1:{port}/v1/traces", timeout=0.5)
    result = runtime.execute("hi", agent="assistant")
    try:
        exporter.export(result, "my-ws")
        exporter.export(result, "my-ws")
        assert exporter.flush(5)
    finally:
        exporter.close()
    assert exporter.failures == 2
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].name == "caxton.server"


def test_without_the_extra_it_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with pytest.raises(UsageError) as raised:
        OtlpExporter("http://127.0.0.1:4318")
    assert raised.value.message == "OTLP export needs the `otlp` extra"
    assert raised.value.hint == "`pip install 'caxton[otlp]'`"


def test_endpoint_from_env() -> None:
    assert endpoint_from_env({}) is None
    assert endpoint_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": " "}) is None
    assert endpoint_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}) == "http://c:4318"
    both = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://t:4318/v1/traces",
    }
    assert endpoint_from_env(both) == "http://t:4318/v1/traces"


def test_traces_url_and_attribute_values() -> None:
    assert traces_url("http://c:4318") == "http://c:4318/v1/traces"
    assert traces_url("http://c:4318/") == "http://c:4318/v1/traces"
    assert traces_url("http://c:4318/v1/traces") == "http://c:4318/v1/traces"
    assert traces_url("http://c/otel/v1/traces/") == "http://c/otel/v1/traces"
    assert attribute(None) is None
    assert attribute(3) == 3 and attribute("x") == "x" and attribute(True) is True
    assert attribute(["stop", "length"]) == ("stop", "length")
    assert attribute([1, "a"]) == '[1, "a"]'
    assert attribute({"a": [1, 2]}) == '{"a": [1, 2]}'
