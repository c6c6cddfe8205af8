"""The API's request bodies and the shapes of its answers, as they appear in /openapi.json.

Routes build plain dicts (cheap) and declare these as their response models for the spec; the
schema tests (tests/server/test_schema.py) check that every answer matches its model.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CONVERSATION_ID = r"^[0-9A-Za-z]{1,64}$"
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

ScopeKind = Literal["agent", "workspace", "global"]


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ----- errors --------------------------------------------------------------------------------


class ErrorOut(BaseModel):
    model_config = ConfigDict(extra="allow")  # e.g. `problems` or `conflicts` of a deploy

    error: str = Field(description="A code from the closed list in docs/server.md.")
    detail: str
    hint: str | None


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (400, "Bad request"),
        (401, "Missing, invalid, expired or revoked token"),
        (403, "The token does not reach the workspace, or its role is too low"),
        (404, "Unknown workspace or item"),
        (408, "The body did not arrive in time"),
        (413, "Body too large"),
        (422, "The body or parameters do not match the schema"),
        (429, "Rate limited; see Retry-After"),
        (503, "Overloaded or unavailable; see Retry-After"),
    )
}


# ----- server --------------------------------------------------------------------------------


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    status: Literal["ready", "not ready"]
    workspaces: int
    problems: list[str]


class WhoamiOut(BaseModel):
    subject: str
    role: Literal["viewer", "deployer", "admin"]
    workspaces: list[str] = Field(description='The workspaces the token names ("*": all).')
    expires_at: int = Field(description="Seconds since the epoch.")
    reachable: list[str] = Field(description="This server's workspaces the token reaches.")


# ----- agents and messages -------------------------------------------------------------------


class AgentOut(BaseModel):
    name: str
    description: str
    capabilities: list[str]
    tools: list[str]
    valid: bool
    problems: list[str]


class AgentsOut(BaseModel):
    workspace: str
    agents: list[AgentOut]


class MessageIn(Closed):
    """A request for an agent: named, or routed by capability when `agent` is null."""

    request: str = Field(min_length=1, max_length=200_000)
    agent: str | None = Field(None, min_length=1, max_length=64)
    conversation_id: str | None = Field(None, pattern=CONVERSATION_ID)


class UsageOut(BaseModel):
    input_tokens: int
    output_tokens: int


class TraceSummaryOut(BaseModel):
    spans: int
    llm_calls: int
    tool_calls: int
    messages: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    errors: int


class RouteOut(BaseModel):
    chosen: str | None
    method: Literal["embedding", "keyword", "fallback"] = Field(
        description='"fallback": no agent fits, so the workspace\'s `[routing] fallback` agent '
        "took the request; `reason` names the best candidate and its score."
    )
    reason: str
    candidates: list[dict[str, Any]]


class ResultOut(BaseModel):
    """One execution's result: `POST messages` as JSON, and the `done` event of its stream."""

    workspace: str
    agent: str
    answer: str
    stop_reason: Literal["done", "max_turns", "max_tool_calls", "timeout", "max_cost_usd", "error"]
    detail: str
    conversation_id: str
    trace_id: str
    usage: UsageOut
    cost_usd: float | None
    turns: int
    tool_calls: int
    deterministic: bool
    models: list[str]
    route: RouteOut | None
    trace: TraceSummaryOut
    error: ErrorOut | None


class ExchangeOut(BaseModel):
    request: str
    answer: str
    trace_id: str


class ConversationOut(BaseModel):
    conversation_id: str
    messages: list[dict[str, Any]] = Field(description="ACL messages between agents.")
    exchanges: list[ExchangeOut]


# ----- traces --------------------------------------------------------------------------------


class ExecutionOut(BaseModel):
    trace_id: str
    conversation_id: str
    agent: str
    request: str
    answer: str
    stop_reason: str
    detail: str
    started_at: str
    seconds: float
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    deterministic: bool
    models: list[str]
    tool_calls: int
    turns: int


class ExecutionsOut(BaseModel):
    workspace: str
    executions: list[ExecutionOut]


class SpanOut(BaseModel):
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    kind: Literal["request", "route", "agent", "llm", "tool", "memory", "message"]
    start: float
    end: float | None
    status: Literal["ok", "error"]
    attributes: dict[str, Any]


class TraceOut(BaseModel):
    execution: ExecutionOut
    spans: list[SpanOut]


# ----- memory --------------------------------------------------------------------------------


class ScopeOut(BaseModel):
    kind: ScopeKind
    owner: str


class EntityOut(BaseModel):
    name: str
    type: str
    observations: list[str]
    scope: ScopeOut
    created_at: str
    updated_at: str


class RelationOut(BaseModel):
    from_: str = Field(alias="from")
    to: str
    type: str
    strength: float
    confidence: float
    valid_from: str | None
    valid_to: str | None
    scope: ScopeOut

    model_config = ConfigDict(populate_by_name=True)


class HitOut(BaseModel):
    """A search hit: its kind and scores, then the fields of the entity, relation or
    interaction found (as in `EntityOut` and `RelationOut`; an interaction has `agent`,
    `request`, `response`, `scope` and `created_at`)."""

    model_config = ConfigDict(extra="allow")

    kind: Literal["entity", "relation", "interaction"]
    score: float
    vector_score: float
    keyword_score: float
    scope: ScopeOut


class SearchOut(BaseModel):
    workspace: str
    hits: list[HitOut]


class EntitiesOut(BaseModel):
    workspace: str
    scope: ScopeOut
    entities: list[EntityOut]


class GraphOut(BaseModel):
    workspace: str
    scope: ScopeOut
    entities: list[EntityOut]
    relations: list[RelationOut]


class RelationsOut(BaseModel):
    workspace: str
    scope: ScopeOut
    relations: list[RelationOut]


class EntityIn(Closed):
    name: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=100)
    observations: list[str] = Field(default_factory=list, max_length=1000)


class EntitiesIn(Closed):
    entities: list[EntityIn] = Field(min_length=1, max_length=1000)


class RelationIn(Closed):
    from_: str = Field(alias="from", min_length=1, max_length=200)
    to: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=100)
    strength: float = Field(1.0, ge=0.0, le=1.0)
    confidence: float = Field(1.0, ge=0.0, le=1.0)


class RelationsIn(Closed):
    relations: list[RelationIn] = Field(min_length=1, max_length=1000)


class ImportedOut(BaseModel):
    entities: int
    relations: int
    interactions: int


class StatsOut(BaseModel):
    workspace: str
    entities: int
    relations: int
    interactions: int
    scopes: list[dict[str, Any]]
    entity_types: dict[str, int]


# ----- tools ---------------------------------------------------------------------------------


class ToolOut(BaseModel):
    name: str
    kind: str
    origin: str
    description: str
    input_schema: dict[str, Any]
    sandboxed: bool
    used_by: list[str] = Field(description="The workspace's agents that list this tool.")
    limits: dict[str, Any] | None = None
    permissions: dict[str, Any] | None = None
    server: dict[str, Any] | None = None


class ToolsOut(BaseModel):
    workspace: str
    tools: list[ToolOut]


class ToolCallIn(Closed):
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolCallOut(BaseModel):
    tool: str
    content: list[dict[str, Any]]
    text: str
    is_error: bool
    fuel_used: int | None
    seconds: float


# ----- events and reload ---------------------------------------------------------------------


class ReloadOut(BaseModel):
    workspace: str
    agents: int
    invalid: dict[str, str]
    seconds: float


# ----- deploys -----------------------------------------------------------------------------------


class FileIn(BaseModel):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)


class DeploymentOut(BaseModel):
    version: int
    root: str = Field(description="The Merkle root of the version's files.")
    at: str
    who: str = Field(description="The subject of the token that deployed it.")
    commit: str | None
    branch: str | None
    dirty: bool = Field(description="Deployed from a git tree with uncommitted changes.")
    message: str
    kind: Literal["deploy", "rollback"]
    rollback_of: int | None
    added: int
    modified: int
    deleted: int
    bytes: int
    files: dict[str, FileIn] | None = None


class DeployLimitsOut(BaseModel):
    file_bytes: int
    workspace_bytes: int
    upload_bytes: int = Field(
        description="Per request of blobs: an upload's body as sent and once unpacked, a plan's "
        "or an apply's body, and a `blobs/fetch` answer; over it is a 413."
    )


class DeployStatusOut(BaseModel):
    workspace: str
    deployable: bool = Field(description="False for a workspace served from a folder.")
    live: DeploymentOut | None
    limits: DeployLimitsOut


class PlanIn(BaseModel):
    root: str = Field(pattern=r"^[0-9a-f]{64}$", description="The client's Merkle root.")
    files: dict[str, FileIn] = Field(description="Path -> file: the client's whole manifest.")


class ChangesOut(BaseModel):
    added: list[str]
    modified: list[str]
    deleted: list[str]


class PlanOut(BaseModel):
    live_version: int
    live_root: str | None
    same: bool = Field(description="The client's root is the live one: nothing to deploy.")
    changes: ChangesOut
    missing: list[str] = Field(description="SHA-256 of the blobs the server lacks.")
    limits: DeployLimitsOut


class UploadOut(BaseModel):
    received: int
    stored: int = Field(description="Blobs new to the server (the rest it had).")
    bytes: int


class FetchIn(BaseModel):
    hashes: list[str] = Field(max_length=20_000)


class ApplyIn(BaseModel):
    base_version: int = Field(ge=0, description="The live version the client planned on.")
    root: str = Field(pattern=r"^[0-9a-f]{64}$")
    files: dict[str, FileIn]
    commit: str | None = Field(None, max_length=64)
    branch: str | None = Field(None, max_length=256)
    dirty: bool = False
    message: str = Field("", max_length=4_000)
    kind: Literal["deploy", "rollback"] = "deploy"
    rollback_of: int | None = Field(None, ge=1)


class ApplyOut(BaseModel):
    deployment: DeploymentOut
    changes: ChangesOut
    reload_seconds: float
    agents: int
    invalid: dict[str, str]


class DeploymentsOut(BaseModel):
    workspace: str
    deployments: list[DeploymentOut]


class AuditEntryOut(BaseModel):
    at: str
    who: str
    action: str
    outcome: str
    version: int | None
    commit: str | None
    detail: str


class AuditOut(BaseModel):
    workspace: str
    entries: list[AuditEntryOut]
