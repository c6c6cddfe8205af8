"""FIPA-ACL, lightweight: the messages agents send each other, and where they are kept.

Performatives: request, inform, query, propose, accept-proposal, reject-proposal, failure,
not-understood, cfp. A message names its sender and either a receiver or the capability it is
addressed to, and carries the conversation id and the trace ids, so one request's messages
can be followed across every hop.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Performative = Literal[
    "request",
    "inform",
    "query",
    "propose",
    "accept-proposal",
    "reject-proposal",
    "failure",
    "not-understood",
    "cfp",
]


@dataclass(frozen=True, slots=True)
class AclMessage:
    performative: Performative
    sender: str
    content: Any
    conversation_id: str
    receiver: str | None = None
    capability: str | None = None
    reply_with: str | None = None
    in_reply_to: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    id: str = ""
    timestamp: str = ""

    @classmethod
    def new(
        cls, performative: Performative, sender: str, content: Any, **fields: Any
    ) -> AclMessage:
        return cls(
            performative,
            sender,
            content,
            id=uuid.uuid4().hex[:16],
            timestamp=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
            **fields,
        )

    def reply(self, performative: Performative, sender: str, content: Any) -> AclMessage:
        return AclMessage.new(
            performative,
            sender,
            content,
            conversation_id=self.conversation_id,
            receiver=self.sender,
            in_reply_to=self.reply_with or self.id,
            trace_id=self.trace_id,
            span_id=self.span_id,
        )

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}


class ConversationStore:
    """Conversations on disk, one JSON Lines file each: append-only, one message per line."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def _path(self, conversation_id: str) -> Path:
        if not conversation_id.isalnum():
            raise ValueError(f"bad conversation id {conversation_id!r}")
        return self.folder / f"{conversation_id}.jsonl"

    def append(self, message: AclMessage) -> None:
        line = json.dumps(message.to_json(), ensure_ascii=False, default=str) + "\n"
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with self._path(message.conversation_id).open("a", encoding="utf-8") as handle:
                handle.write(line)

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        path = self._path(conversation_id)
        if not path.is_file():
            return []
        with path.open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def conversations(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.jsonl"))
