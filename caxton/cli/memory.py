"""`caxton memory search|add|show|export|import|stats` on the workspace's local store."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from caxton.cli import output

if TYPE_CHECKING:
    from caxton.memory.scope import Scope
    from caxton.memory.store import MemoryStore

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Search and edit the workspace's local memory."
)

SCOPE_HELP = "agent, workspace or global"


@app.callback()
def _group() -> None:
    """Search and edit the workspace's local memory (.caxton/memory.duckdb)."""


def _open() -> tuple[Path, MemoryStore]:
    from caxton.memory.local import store_path
    from caxton.memory.store import MemoryStore
    from caxton.workspace.loader import require_root

    root = require_root(Path.cwd())
    return root, MemoryStore.open(store_path(root))


def _scope(root: Path, scope: str, agent: str | None) -> Scope:
    from caxton.memory.local import cli_scope

    return cli_scope(root, scope, agent)


@app.command()
def search(
    query: str = typer.Argument(..., help="What to look for, in words."),
    scope: str = typer.Option("workspace", "--scope", help=SCOPE_HELP),
    agent: str | None = typer.Option(None, "--agent", help="The agent, with --scope agent."),
    all_scopes: bool = typer.Option(False, "--all-scopes", help="Search every scope."),
    limit: int = typer.Option(10, "--limit", min=1, max=1000),
    min_similarity: float = typer.Option(0.0, "--min-similarity", min=-1.0, max=1.0),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Hybrid search (meaning and keywords) over entities and interactions."""
    from caxton.memory.store import Entity, Relation
    from caxton.memory.views import hit_json

    root, store = _open()
    with store:
        chosen = None if all_scopes else _scope(root, scope, agent)
        hits = store.search(
            chosen,
            query,
            limit=limit,
            min_similarity=min_similarity,
            kinds=("entity", "relation", "interaction"),
        )
    if as_json:
        output.emit_json([hit_json(h) for h in hits])
        return
    if not hits:
        output.say(f"nothing found in {chosen or 'any scope'} memory")
        return
    for hit in hits:
        item = hit.item
        if isinstance(item, Entity):
            title = f"{item.name} ({item.type})"
            detail = "; ".join(item.observations)
        elif isinstance(item, Relation):
            title = f"{item.from_name} -{item.type}-> {item.to_name}"
            detail = ""
        else:
            title = f"interaction with {item.agent}"
            detail = item.request
        where = f" [{item.scope}]" if chosen is None else ""
        output.echo(f"{hit.score:.2f}  {hit.kind:11} {title}{where}")
        if detail:
            output.echo(f"      {detail[:150]}")


@app.command()
def add(
    name: str = typer.Argument(..., help="Entity name."),
    type_: str = typer.Option(..., "--type", "-t", help="Entity type, e.g. person, service."),
    observations: list[str] = typer.Option(
        [], "--observation", "-o", help="A fact about it (repeat for more)."
    ),
    relate: list[str] = typer.Option(
        [], "--relation", "-r", help="TYPE:OTHER, e.g. depends_on:billing (repeatable)."
    ),
    scope: str = typer.Option("workspace", "--scope", help=SCOPE_HELP),
    agent: str | None = typer.Option(None, "--agent", help="The agent, with --scope agent."),
) -> None:
    """Add an entity (or add observations to one), optionally related to others."""
    from caxton.errors import UsageError
    from caxton.memory.store import NewRelation

    links = []
    for spec in relate:
        kind, _, other = spec.partition(":")
        if not kind or not other:
            raise UsageError(
                f"--relation {spec!r} is not TYPE:OTHER",
                "for example `--relation depends_on:billing`",
            )
        links.append(NewRelation(name, other, kind))
    root, store = _open()
    with store:
        chosen = _scope(root, scope, agent)
        entity = store.upsert_entities(chosen, [(name, type_, observations)])[0]
        if links:
            store.create_relations(chosen, links)
    output.success(
        f"{entity.name} ({entity.type}) in {chosen} memory: "
        f"{len(entity.observations)} observation"
        f"{'s' * (len(entity.observations) != 1)}"
        + (f", {len(links)} relation{'s' * (len(links) != 1)}" if links else "")
    )


@app.command()
def show(
    name: str = typer.Argument(..., help="Entity name."),
    depth: int = typer.Option(1, "--depth", min=0, max=10, help="Relations to follow."),
    scope: str = typer.Option("workspace", "--scope", help=SCOPE_HELP),
    agent: str | None = typer.Option(None, "--agent", help="The agent, with --scope agent."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """An entity with its observations, and its neighbours to --depth."""
    from caxton.memory.views import graph_json

    root, store = _open()
    with store:
        chosen = _scope(root, scope, agent)
        graph = store.neighbours(chosen, name, depth)
    if as_json:
        output.emit_json(graph_json(graph))
        return
    main = next(e for e in graph.entities if e.name == name)
    output.echo(f"{main.name} ({main.type})  [{chosen}]")
    for observation in main.observations:
        output.echo(f"  - {observation}")
    for r in graph.relations:
        output.echo(
            f"  {r.from_name} -{r.type}-> {r.to_name}  "
            f"(strength {r.strength:.2f}, confidence {r.confidence:.2f})"
        )
    others = [e for e in graph.entities if e.name != name]
    if others:
        output.echo("  neighbours: " + ", ".join(f"{e.name} ({e.type})" for e in others))


@app.command(name="export")
def export_(
    file: Path | None = typer.Argument(None, help="Where to write (default: stdout)."),
    scope: str | None = typer.Option(None, "--scope", help=f"{SCOPE_HELP} (default: every scope)"),
    agent: str | None = typer.Option(None, "--agent", help="The agent, with --scope agent."),
) -> None:
    """Export memory as JSON (every scope, or one)."""
    from caxton.memory.transfer import export_memory
    from caxton.workspace.files import write_all

    root, store = _open()
    with store:
        chosen = _scope(root, scope, agent) if scope else None
        document = export_memory(store, chosen)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if file is None:
        sys.stdout.write(text)
        return
    write_all({file.resolve(): text}, force=True)
    output.success(
        f"exported {len(document['entities'])} entities, "
        f"{len(document['relations'])} relations, "
        f"{len(document['interactions'])} interactions to `{file}`"
    )


@app.command(name="import")
def import_(file: Path = typer.Argument(..., help="A file from `caxton memory export`.")) -> None:
    """Import a JSON export; every record is checked first, and it is all or nothing."""
    from caxton.errors import FileAccessError
    from caxton.memory.transfer import BadImport, import_memory

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileAccessError(
            f"cannot read `{file}`: {exc}", "pass a JSON file written by `caxton memory export`"
        ) from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadImport(
            f"`{file}` is not JSON: {exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}; nothing was imported",
            "pass a file written by `caxton memory export`",
        ) from exc
    _, store = _open()
    with store:
        counts = import_memory(store, document)
    output.success(
        f"imported {counts['entities']} entities, {counts['relations']} relations, "
        f"{counts['interactions']} interactions"
    )


@app.command()
def stats(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Counts per scope, entity types, and the store's size."""
    _, store = _open()
    with store:
        figures = store.stats()
    if as_json:
        output.emit_json(figures)
        return
    output.echo(f"{figures['path']}  ({figures['file_bytes'] / 1024:.0f} KiB)")
    output.echo(
        f"  {figures['entities']} entities, {figures['relations']} relations, "
        f"{figures['interactions']} interactions"
    )
    for row in figures["scopes"]:
        scope = row["scope"]
        label = scope["kind"] if scope["kind"] == "global" else f"{scope['kind']}:{scope['owner']}"
        output.echo(
            f"  {label:30} {row['entities']:7} entities {row['relations']:7} relations "
            f"{row['interactions']:7} interactions"
        )
    if figures["entity_types"]:
        output.echo("  types: " + ", ".join(f"{t} {c}" for t, c in figures["entity_types"].items()))
