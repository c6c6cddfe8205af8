"""The HTTP API: `create_app(state)` over the served workspaces, their runtimes and stores.

Routes are thin: find the workspace, call the runtime or a store, render JSON. They live by
area in `agents_api`, `traces_api`, `memory_api`, `tools_api` and `deploy_api`; the `Gate`
middleware authenticates, rate-limits and bounds every request before routing. Every error is
`{"error", "detail", "hint"}`; no token, traceback or other workspace's name ever appears in a
response or a log line.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from caxton.errors import CaxtonError
from caxton.observability import trace as t
from caxton.runtime.executor import ExecutionResult
from caxton.server import models as m
from caxton.server.gate import AccessLog, Gate, Limits
from caxton.server.responses import error_response, error_status, plain_error
from caxton.server.state import ServerState, Workspace

__all__ = ["Limits", "Metrics", "ServerState", "Workspace", "create_app"]

log = logging.getLogger("caxton.server")


# ----- metrics -------------------------------------------------------------------------------


class Metrics:
    """Prometheus metrics in a registry of their own, so two apps in a process never clash."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        r = self.registry
        self.latency = Histogram(
            "caxton_http_request_duration_seconds",
            "HTTP request latency, by route template and status.",
            ["method", "route", "status"],
            registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.executions = Counter(
            "caxton_executions", "Executions, by agent and stop reason.",
            ["workspace", "agent", "stop_reason"], registry=r,
        )  # fmt: skip
        self.tool_calls = Counter(
            "caxton_tool_calls", "Tool calls, by tool and outcome.",
            ["workspace", "tool", "outcome"], registry=r,
        )  # fmt: skip
        self.tokens = Counter(
            "caxton_llm_tokens", "LLM tokens, by model and direction (input/output).",
            ["workspace", "model", "direction"], registry=r,
        )  # fmt: skip
        self.cost = Counter(
            "caxton_llm_cost_usd", "LLM cost in US dollars, by model (priced models only).",
            ["workspace", "model"], registry=r,
        )  # fmt: skip
        self.otlp_failures = Gauge(
            "caxton_otlp_export_failures",
            "Executions whose trace the OTLP exporter could not deliver.",
            registry=r,
        )
        self.errors = Counter(
            "caxton_errors", "Errors answered, by kind (the `error` field of the response).",
            ["kind"], registry=r,
        )  # fmt: skip

    def execution(self, workspace: str, result: ExecutionResult) -> None:
        self.executions.labels(workspace, result.agent, result.stop_reason).inc()
        for span in list(result.trace.spans):
            if span.kind == "tool":
                name = str(span.attributes.get(t.TOOL_NAME, span.name))
                self.tool_calls.labels(workspace, name, span.status).inc()
            elif span.kind == "llm":
                attrs = span.attributes
                model = str(attrs.get(t.RESPONSE_MODEL) or attrs.get(t.REQUEST_MODEL) or "?")
                for direction, key in (("input", t.INPUT_TOKENS), ("output", t.OUTPUT_TOKENS)):
                    self.tokens.labels(workspace, model, direction).inc(attrs.get(key) or 0)
                cost = attrs.get(t.COST_USD)
                if isinstance(cost, int | float):
                    self.cost.labels(workspace, model).inc(cost)

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


# ----- the app -------------------------------------------------------------------------------


def create_app(
    state: ServerState, *, access_log: AccessLog | None = None, limits: Limits | None = None
) -> FastAPI:
    """The ASGI app serving `state`; `access_log(method, path, status, ms)` is called once
    per request; `limits` bound bodies and rates (defaults: `Limits()`)."""
    from caxton import __version__
    from caxton.server import agents_api, deploy_api, memory_api, tools_api, traces_api

    metrics = Metrics()
    app = FastAPI(
        title="Caxton",
        version=__version__,
        description="Agents, their requests, traces, memory and tools, per workspace.",
        openapi_url="/openapi.json",
        docs_url=None,  # the Swagger page loads scripts from a CDN: nothing leaves by default
        redoc_url=None,
    )
    app.state.caxton = state
    app.state.metrics = metrics

    routers = (agents_api, traces_api, memory_api, tools_api, deploy_api)

    def candidates() -> list[Any]:
        return [*app.router.routes, *(r for mod in routers for r in mod.router.routes)]

    app.state.candidates = candidates

    def routes(scope: Scope) -> str:
        """The route template of a request answered before routing (for the metrics)."""
        from starlette.routing import Match

        for route in candidates():
            path = getattr(route, "path", None)
            if path is not None and route.matches(scope)[0] is not Match.NONE:
                return str(path)
        return "unmatched"

    limits = limits or Limits()
    app.state.limits = limits  # the deploy routes advertise and apply the Gate's upload limit
    app.add_middleware(
        Gate, state=state, metrics=metrics, routes=routes, access_log=access_log, limits=limits
    )
    _install_error_handlers(app)

    @app.get("/health", tags=["server"], response_model=m.HealthOut)
    async def health() -> dict[str, str]:
        """Alive: the process answers. No token needed."""
        return {"status": "ok"}

    @app.get(
        "/ready", tags=["server"], response_model=m.ReadyOut,
        responses={503: {"model": m.ReadyOut, "description": "Not ready"}},
    )  # fmt: skip
    async def ready() -> JSONResponse:
        """Ready: every workspace's runtime loaded and its trace store open. No token needed."""
        problems = state.problems()
        body = {
            "status": "not ready" if problems else "ready",
            "workspaces": len(state.workspaces),
            "problems": problems,
        }
        return JSONResponse(body, 503 if problems else 200)

    @app.get(
        "/metrics", tags=["server"], response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )  # fmt: skip
    async def prometheus() -> Response:
        """Prometheus metrics (text format). No token needed."""
        from prometheus_client import CONTENT_TYPE_LATEST

        if state.exporter is not None:
            metrics.otlp_failures.set(state.exporter.failures)
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/api/v1/whoami", tags=["server"], response_model=m.WhoamiOut, responses=m.ERRORS)
    async def whoami(request: Request) -> dict[str, object]:
        """What the caller's token is: its subject, role, the workspaces it names, when it
        expires, and which of this server's workspaces it reaches (`caxton login` checks a
        token with this)."""
        from caxton.server.access import claims_of

        claims = claims_of(request)
        return {
            "subject": claims.subject,
            "role": claims.role,
            "workspaces": list(claims.workspaces),
            "expires_at": claims.expires_at,
            "reachable": sorted(n for n in state.workspaces if claims.reaches(n)),
        }

    for module in routers:
        app.include_router(module.router)
    return app


def _methods(request: Request) -> list[str]:
    from starlette.routing import Match

    found: set[str] = set()
    for route in request.app.state.candidates():
        methods = getattr(route, "methods", None)
        if methods and route.matches(request.scope)[0] is not Match.NONE:
            found |= set(methods)
    return sorted(found)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CaxtonError)
    async def caxton_error(request: Request, exc: CaxtonError) -> Response:
        response = error_response(exc)
        request.scope.setdefault("state", {})["caxton_error"] = error_status(exc)[1]
        if response.status_code >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, exc.message)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return plain_error(400, "the body is not valid JSON", "send a JSON object")
        shown = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in errors[:5]
        )
        return plain_error(422, shown, "see the request schema in /openapi.json")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        hint = "the routes are listed in /openapi.json" if exc.status_code in (404, 405) else None
        response = plain_error(exc.status_code, detail, hint)
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:  # every method the path takes, across the routers
            response.headers["Allow"] = ", ".join(_methods(request))
        return response

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return plain_error(
            500, "internal server error", "the server's log has the details; please report it"
        )
