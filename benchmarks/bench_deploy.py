"""Deploy benchmark: `caxton deploy` against a real `caxton serve` over loopback, against
`rsync -a --checksum` of the same files between two local folders.

Run: `python benchmarks/bench_deploy.py` (add `--runs N`, `--runs-large N`, `--dir DIR` for
where the temporary folder goes; its cost per new file is printed first). It starts one
`caxton serve --model test --rate-limit 0` on 127.0.0.1 with a temporary data dir and
CAXTON_HOME, makes workspaces with `caxton init NAME` plus N generated agents (copies of the
starter `assistant.toml` with their own name, description and capabilities), adds the server
as remote `bench` (`caxton remote add bench URL --token-stdin`) and commits them in git.

Each case is measured two ways, repetitions interleaved:
- protocol: in this process, `caxton.deploy.push.push()` with a fresh `Client` each time;
  `Outcome.seconds` is plan + upload + apply (the apply includes the server's validation of
  the new tree and the agents' reload, `Outcome.reload_seconds` of it). Building the
  manifest (`caxton.deploy.manifest.build`: list and hash the files) is timed apart, and
  shown both excluded and included.
- whole command: `python -m caxton deploy --remote bench` as a subprocess, wall clock: Python
  start, imports, local validation, git state, manifest, protocol, the local record.

Cases: a no-op deploy (nothing changed) and one changed agent, on 50-agent workspaces; a first
deploy of 50 and of 500 agents (a fresh workspace name each repetition). The reference is
`rsync -a --checksum` of the same workspace folder (`.git` and `.caxton` left out) from one
local folder to another, as a subprocess: nothing changed, one agent changed, the whole
folder into an empty one. `python -c pass` gives the interpreter's own start for scale.

Targets (issue 7): one changed agent <= 100 ms protocol and <= 500 ms whole command; a first
deploy of 50 agents <= 1 s; a no-op <= 50 ms protocol; config reload < 100 ms.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from common import cpu_model, free_port, stop_process

from caxton.client import Client
from caxton.deploy.manifest import build
from caxton.deploy.push import Outcome, push

REMOTE = "bench"
CHANGED = "agents/agent-007.toml"
CAXTON = [sys.executable, "-m", "caxton"]
OK = {True: "met", False: "NOT met"}

# ----- the server ------------------------------------------------------------------------------


@dataclass
class Server:
    """`caxton serve` on 127.0.0.1 with its own data dir, stopped with SIGTERM."""

    data: Path
    log: Path
    env: dict[str, str]
    cwd: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> float:
        argv = [*CAXTON, "serve", "--data-dir", str(self.data), "--port", str(self.port)]
        argv += ["--model", "test", "--rate-limit", "0"]
        started = time.perf_counter()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=log, env=self.env, cwd=self.cwd
            )
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"caxton serve exited with {self.process.returncode}:\n{self.log.read_text()}"
                )
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                time.sleep(0.05)
        raise SystemExit(f"caxton serve did not answer /health in {timeout:.0f} s")

    def stop(self) -> int | None:
        return stop_process(self.process)


# ----- workspaces ------------------------------------------------------------------------------


def run(argv: list[str], cwd: Path, env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(
        argv, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"`{' '.join(argv)}` failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def agent_text(starter: str, i: int) -> str:
    """The starter agent's file, as agent-NNN: its own name, description and capabilities."""
    name = f"agent-{i:03d}"
    text = re.sub(r'^name = "assistant"$', f'name = "{name}"', starter, count=1, flags=re.M)
    text = re.sub(
        r'^description = ".*"$',
        f'description = "Benchmark agent {i}: answers questions on topic {i} and hands '
        f'work on topic {i + 1} to the agent that declares it."',
        text,
        count=1,
        flags=re.M,
    )
    return text.replace('"general-assistance",', f'"topic-{i}",\n    "region-{i % 7}",', 1)


def make_workspace(
    parent: Path, name: str, agents: int, env: dict[str, str], server: Server, token: str
) -> Path:
    """`caxton init NAME`, N agents, remote `bench`, one git commit."""
    run([*CAXTON, "init", name], parent, env)
    root = parent / name
    starter = (root / "agents" / "assistant.toml").read_text(encoding="utf-8")
    for i in range(agents):
        (root / "agents" / f"agent-{i:03d}.toml").write_text(
            agent_text(starter, i), encoding="utf-8"
        )
    run([*CAXTON, "remote", "add", REMOTE, server.url, "--token-stdin"], root, env, token)
    commit(root, env, f"{agents} agents")
    return root


def validate(root: Path, env: dict[str, str]) -> str:
    """`caxton validate`'s verdict (it reports on stderr); exits on a problem."""
    done = subprocess.run(
        [*CAXTON, "validate"], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    said = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise SystemExit(f"the generated workspace `{root.name}` is not valid:\n{said}")
    return said.splitlines()[-1] if said else "valid"


def commit(root: Path, env: dict[str, str], message: str) -> None:
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-q", "-m", message], root, env)


def clone(template: Path, name: str, env: dict[str, str]) -> Path:
    """A copy of a workspace (its git history too) renamed `name` in caxton.toml, committed."""
    root = template.parent / name
    shutil.copytree(template, root, symlinks=True)
    path = root / "caxton.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        re.sub(r'^name = ".*"$', f'name = "{name}"', text, count=1, flags=re.M), encoding="utf-8"
    )
    commit(root, env, f"rename to {name}")
    return root


def change_agent(root: Path, revision: int) -> None:
    """One agent's description changes (the same size each time)."""
    path = root / CHANGED
    text = path.read_text(encoding="utf-8")
    text = re.sub(
        r'^description = "(.*?)( \(revision \d+\))?"$',
        lambda m: f'description = "{m.group(1)} (revision {revision:04d})"',
        text,
        count=1,
        flags=re.M,
    )
    path.write_text(text, encoding="utf-8")


def mirror_source(root: Path, target: Path) -> Path:
    """The workspace folder without `.git` and `.caxton`: what the rsync reference copies."""
    shutil.copytree(root, target, ignore=shutil.ignore_patterns(".git", ".caxton"))
    return target


# ----- measuring -------------------------------------------------------------------------------


@dataclass
class Figure:
    """Seconds of one measured thing, over the repetitions."""

    label: str
    seconds: list[float] = field(default_factory=list)

    @property
    def ms(self) -> list[float]:
        return [s * 1000 for s in self.seconds]

    @property
    def min_ms(self) -> float:
        return min(self.ms)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.ms)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def protocol_push(
    server: Server, token: str, name: str, root: Path, base: int
) -> tuple[float, Outcome]:
    """Build the manifest (timed) and push it with a fresh client; (build seconds, outcome)."""
    start = time.perf_counter()
    manifest = build(root)
    built = time.perf_counter() - start
    with Client(server.url, token, name) as client:
        outcome = push(client, root, manifest, base_version=base, git=None)
    if outcome.invalid:
        raise SystemExit(f"{name}: agents not running after the deploy: {outcome.invalid}")
    return built, outcome


def deploy_cli(root: Path, env: dict[str, str]) -> float:
    return timed(lambda: run([*CAXTON, "deploy", "--remote", REMOTE], root, env))


def rsync(source: Path, target: Path, env: dict[str, str]) -> float:
    argv = ["rsync", "-a", "--checksum", f"{source}/", f"{target}/"]
    return timed(lambda: run(argv, source, env))


# ----- printing --------------------------------------------------------------------------------


def create_cost(folder: Path, files: int = 200) -> float:
    """Milliseconds to create and write one small new file in `folder` (the server writes a
    whole tree per version; on some machines a folder such as /tmp is much slower at it)."""
    probe = Path(tempfile.mkdtemp(prefix="create-probe-", dir=folder))
    try:
        start = time.perf_counter()
        for i in range(files):
            (probe / f"f{i}").write_bytes(b"x" * 6000)
        return (time.perf_counter() - start) / files * 1000
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def source_state() -> str:
    """The caxton version, and the git commit of its source tree (uncommitted changes noted)."""
    import importlib.metadata as md

    import caxton

    where = Path(caxton.__file__).parent
    found = f"caxton {md.version('caxton')}"
    head = subprocess.run(
        ["git", "-C", str(where), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    if head.returncode == 0:
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
        ).stdout.strip()
        found += f" at {head.stdout.strip()}" + (" + uncommitted changes" if dirty else "")
    return found


def load() -> str:
    if not hasattr(os, "getloadavg"):
        return "load average unknown"
    return f"load average {os.getloadavg()[0]:.2f} (1 min)"


def line(figure: Figure, target_ms: float | None = None, reference: Figure | None = None) -> str:
    text = f"  {figure.label:<46} min {figure.min_ms:8.1f}  median {figure.median_ms:8.1f} ms"
    if target_ms is not None:
        text += f"  target <= {target_ms:,.0f} ms: {OK[figure.median_ms <= target_ms]}"
    if reference is not None and reference.seconds:
        text += f"  x rsync {figure.median_ms / reference.median_ms:6.2f}"
    return text


# ----- the run ---------------------------------------------------------------------------------


def bench(args: argparse.Namespace, temp: Path, stack: ExitStack) -> None:
    home = temp / "home"
    home.mkdir()
    work = temp / "work"
    work.mkdir()
    env = {
        **os.environ,
        "CAXTON_HOME": str(home),
        "CAXTON_FORBID_REAL_LLM": "1",
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    }
    server = Server(temp / "data", temp / "serve.log", env, cwd=temp)
    stack.callback(server.stop)
    startup = server.start()
    token = (server.data / "server" / "admin-token").read_text(encoding="utf-8").strip()
    has_rsync = shutil.which("rsync") is not None
    rsync_version = (
        run(["rsync", "--version"], temp, env).splitlines()[0] if has_rsync else "not installed"
    )
    runs, large = args.runs, args.runs_large
    python = Figure("python -c pass")
    for _ in range(runs):
        python.seconds.append(timed(lambda: run([sys.executable, "-c", "pass"], temp, env)))
    print(
        f"machine: {os.cpu_count()} CPUs ({cpu_model()}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; {source_state()}; {rsync_version}; {load()}"
    )
    print(
        f"temporary folder (data dir, workspaces, rsync folders) under `{temp.parent}`: "
        f"creating a 6 KB file there costs {create_cost(temp):.3f} ms"
    )
    print(
        f"caxton serve answered /health after {startup * 1000:,.0f} ms; {runs} repetitions "
        f"({large} for 500 agents), min / median; python -c pass median "
        f"{python.median_ms:.1f} ms"
    )

    # the workspaces: two 50-agent ones kept in step (one pushed in-process, one by the
    # command), and templates cloned under a fresh name for each first deploy
    made = time.perf_counter()
    pushed = make_workspace(work, "steady-api", 50, env, server, token)
    commanded = make_workspace(work, "steady-cli", 50, env, server, token)
    first50 = make_workspace(work, "first50", 50, env, server, token)
    first500 = make_workspace(work, "first500", 500, env, server, token)
    checks = {n: validate(root, env) for n, root in (("50", first50), ("500", first500))}
    print(
        f"workspaces made in {time.perf_counter() - made:.1f} s; `caxton validate`: 50 agents: "
        f"{checks['50']}; 500 agents: {checks['500']}"
    )
    live = protocol_push(server, token, "steady-api", pushed, 0)[1]
    assert live.deployment is not None
    version = int(live.deployment["version"])
    deploy_cli(commanded, env)  # its first deploy, and a warm-up of the command
    if has_rsync:
        source = mirror_source(pushed, temp / "rsync-source")
        target = temp / "rsync-target"
        target.mkdir()
        rsync(source, target, env)

    # 1. no-op
    noop_build = Figure("manifest build (50 agents)")
    noop_protocol = Figure("protocol (plan only)")
    noop_both = Figure("protocol + manifest build")
    noop_cli = Figure("whole command `caxton deploy`")
    noop_rsync = Figure("rsync -a --checksum, nothing changed")
    for _ in range(runs):
        built, outcome = protocol_push(server, token, "steady-api", pushed, version)
        if outcome.deployment is not None:
            raise SystemExit(f"a no-op deploy deployed: {outcome.deployment}")
        noop_build.seconds.append(built)
        noop_protocol.seconds.append(outcome.seconds)
        noop_both.seconds.append(built + outcome.seconds)
        noop_cli.seconds.append(deploy_cli(commanded, env))
        if has_rsync:
            noop_rsync.seconds.append(rsync(source, target, env))

    # 2. one changed agent
    change_build = Figure("manifest build (50 agents)")
    change_protocol = Figure("protocol (plan, upload, apply)")
    change_both = Figure("protocol + manifest build")
    change_reload = Figure("server reload_seconds (of the protocol)")
    change_cli = Figure("whole command `caxton deploy`")
    change_rsync = Figure("rsync -a --checksum, one agent changed")
    sent: set[tuple[int, int]] = set()
    for revision in range(1, runs + 1):
        change_agent(pushed, revision)
        built, outcome = protocol_push(server, token, "steady-api", pushed, version)
        if outcome.deployment is None or outcome.plan.changes.modified != (CHANGED,):
            raise SystemExit(f"the one-agent deploy was not one modified agent: {outcome.plan}")
        version = int(outcome.deployment["version"])
        sent.add((outcome.blobs_sent, outcome.bytes_sent))
        change_build.seconds.append(built)
        change_protocol.seconds.append(outcome.seconds)
        change_both.seconds.append(built + outcome.seconds)
        change_reload.seconds.append(outcome.reload_seconds or 0.0)
        change_agent(commanded, revision)
        commit(commanded, env, f"revision {revision}")
        change_cli.seconds.append(deploy_cli(commanded, env))
        if has_rsync:
            change_agent(source, revision)
            change_rsync.seconds.append(rsync(source, target, env))

    # 3. first deploys, a fresh workspace name each time
    first: dict[int, tuple[Figure, Figure, Figure, Figure, Figure, Figure]] = {}
    for agents, template, repetitions in ((50, first50, runs), (500, first500, large)):
        f_build = Figure(f"manifest build ({agents} agents)")
        f_protocol = Figure("protocol (plan, upload, apply)")
        f_both = Figure("protocol + manifest build")
        f_reload = Figure("server reload_seconds (of the protocol)")
        f_cli = Figure("whole command `caxton deploy`")
        f_rsync = Figure("rsync -a --checksum into an empty folder")
        source = mirror_source(template, temp / f"rsync-first{agents}")
        for i in range(1, repetitions + 1):
            name = f"first{agents}-api-{i}"
            root = clone(template, name, env)
            built, outcome = protocol_push(server, token, name, root, 0)
            if outcome.agents != agents + 1:
                raise SystemExit(f"{name}: {outcome.agents} agents running, not {agents + 1}")
            f_build.seconds.append(built)
            f_protocol.seconds.append(outcome.seconds)
            f_both.seconds.append(built + outcome.seconds)
            f_reload.seconds.append(outcome.reload_seconds or 0.0)
            f_cli.seconds.append(deploy_cli(clone(template, f"first{agents}-cli-{i}", env), env))
            if has_rsync:
                empty = temp / f"rsync-empty{agents}-{i}"
                empty.mkdir()
                f_rsync.seconds.append(rsync(source, empty, env))
        first[agents] = (f_build, f_protocol, f_both, f_reload, f_cli, f_rsync)

    def reference(figure: Figure) -> Figure | None:
        return figure if has_rsync else None

    print("\n1. no-op deploy, 50 agents (nothing changed):")
    print(line(noop_build))
    print(line(noop_protocol, 50, reference(noop_rsync)))
    print(line(noop_both, None, reference(noop_rsync)))
    print(line(noop_cli, None, reference(noop_rsync)))
    if has_rsync:
        print(line(noop_rsync))
    blobs = {b for b, _ in sent}
    sizes = [n for _, n in sent]
    print(
        f"\n2. one changed agent, 50 agents ({'/'.join(map(str, sorted(blobs)))} blob, "
        f"{min(sizes):,}-{max(sizes):,} bytes compressed, per deploy):"
    )
    print(line(change_build))
    print(line(change_protocol, 100, reference(change_rsync)))
    print(line(change_both, 100, reference(change_rsync)))
    print(line(change_reload, 100))
    print(line(change_cli, 500, reference(change_rsync)))
    if has_rsync:
        print(line(change_rsync))
    for agents, (f_build, f_protocol, f_both, f_reload, f_cli, f_rsync) in first.items():
        target_ms = 1000.0 if agents == 50 else None
        print(f"\n3. first deploy, {agents} agents (a new workspace each time):")
        print(line(f_build))
        print(line(f_protocol, target_ms, reference(f_rsync)))
        print(line(f_both, target_ms, reference(f_rsync)))
        print(line(f_reload))
        print(line(f_cli, target_ms, reference(f_rsync)))
        if has_rsync:
            print(line(f_rsync))
    if not has_rsync:
        print("\nrsync is not installed: the reference is unavailable (no ratios)")

    first50_protocol, first50_cli = first[50][1], first[50][4]
    print(
        "\ntargets (medians): no-op <= 50 ms protocol: "
        f"{OK[noop_protocol.median_ms <= 50]} ({noop_protocol.median_ms:.1f} ms); "
        f"one changed agent <= 100 ms protocol: {OK[change_protocol.median_ms <= 100]} "
        f"({change_protocol.median_ms:.1f} ms; {change_both.median_ms:.1f} ms with the "
        f"manifest), <= 500 ms whole command: {OK[change_cli.median_ms <= 500]} "
        f"({change_cli.median_ms:.0f} ms); config reload < 100 ms: "
        f"{OK[change_reload.median_ms < 100]} ({change_reload.median_ms:.1f} ms); first deploy "
        f"of 50 agents <= 1 s: protocol {OK[first50_protocol.median_ms <= 1000]} "
        f"({first50_protocol.median_ms:.0f} ms), whole command "
        f"{OK[first50_cli.median_ms <= 1000]} ({first50_cli.median_ms:.0f} ms)"
    )
    print(f"at the end, {load()}")
    code = server.stop()
    if code != 0:
        tail = server.log.read_text(encoding="utf-8", errors="replace")[-2000:]
        print(f"caxton serve exited with {code}; the end of its log:\n{tail}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="repetitions per case")
    parser.add_argument("--runs-large", type=int, default=3, help="repetitions with 500 agents")
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where the temporary folder goes (default: the system's, $TMPDIR or /tmp)",
    )
    args = parser.parse_args()
    if args.runs < 1 or args.runs_large < 1:
        parser.error("--runs and --runs-large must be at least 1")
    started = time.perf_counter()
    folder = tempfile.TemporaryDirectory(prefix="caxton-bench-deploy-", dir=args.dir)
    with folder as temp, ExitStack() as stack:
        bench(args, Path(temp), stack)
    print(f"benchmark took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
