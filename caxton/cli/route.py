"""`caxton route "request"`: which agent would take a request, offline, with the reasons."""

from __future__ import annotations

from pathlib import Path

import typer

from caxton.cli import output

app = typer.Typer(add_completion=False)


@app.command(name="route")
def route(
    request: str = typer.Argument(..., help="The request, in quotes."),
    top: int = typer.Option(3, "--top", min=1, max=50, help="How many candidates to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show which agent the router chooses for a request, with scores and reasons."""
    from caxton.routing.workspace import route_in_workspace
    from caxton.workspace.loader import require_root

    outcome = route_in_workspace(require_root(Path.cwd()), request, top=top)
    result = outcome.result
    if outcome.warning:
        output.warn(*outcome.warning)
    if as_json:
        output.emit_json(
            {
                "request": result.request,
                "chosen": result.chosen,
                "reason": result.reason,
                "method": result.method,
                "threshold": result.threshold,
                "candidates": [
                    {
                        "agent": c.agent,
                        "score": round(c.score, 4),
                        "capability_score": round(c.capability_score, 4),
                        "profile_score": round(c.profile_score, 4),
                        "example_score": round(c.example_score, 4),
                        "keyword_score": round(c.keyword_score, 4),
                        "best_capability": c.best_capability,
                        "matched_words": list(c.matched_words),
                    }
                    for c in result.candidates
                ],
                "skipped_invalid": outcome.skipped,
                "fallback_problem": result.fallback_problem,
            }
        )
        return
    output.echo(result.chosen or "(no agent fits)")
    output.say(result.reason)
    for c in result.candidates:
        mark = "→" if c.agent == result.chosen else " "
        output.say(f" {mark} {c.agent:28} {c.score:5.2f}  {c.explain()}")
    if result.fallback_problem is not None:
        output.warn(result.fallback_problem, "`caxton validate` says what is wrong")
    if outcome.skipped:
        output.warn(
            f"skipped invalid agent{'s' * (len(outcome.skipped) != 1)}: "
            + ", ".join(outcome.skipped),
            "`caxton validate` says what is wrong",
        )
