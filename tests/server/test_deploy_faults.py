"""Deploys under faults, against real `caxton serve` processes over real HTTP: the server
SIGKILLed at each step of an apply, two clients racing, a connection cut mid-upload, hostile
manifests, oversized files, configs that do not validate, tokens without the right, and
workspaces that are not this deploy's.

One server (module-scoped) serves every test but the SIGKILL ones; each test deploys to its
own workspace name on it, so they stay independent. The SIGKILL tests start their own servers
on a copy of a data dir that already holds version 1.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from caxton.client import Client, RemoteError
from caxton.deploy import push
from caxton.deploy.manifest import FileEntry, Manifest, ManifestError, build, merkle_root
from caxton.deploy.store import (
    FAULT_ENV,
    FAULT_POINTS,
    MAX_FILE_BYTES,
    MAX_UPLOAD_BYTES,
    frame_bytes,
    pack,
)
from caxton.errors import UsageError
from caxton.server.gate import Limits
from caxton.workspace.scaffold import create_workspace

START_TIMEOUT = 60.0  # seconds for `caxton serve` to answer /health (2 slow cores, CI)
STOP_TIMEOUT = 40.0  # SIGTERM grants requests in flight 30 s
FOLDER_WS = "folder"  # the shared server's workspace served from a folder (`--workspace`)
MB100 = 100 * 1024 * 1024


def agent_toml(name: str, description: str = "A deploy-test agent.") -> str:
    return f"""name = "{name}"
description = "{description}"
capabilities = ["deploy-testing"]
tools = []
system_prompt = "You are a deploy-test agent: answer in one line."

[memory]
enabled = false
auto_store = false
"""


def make_workspace(folder: Path, name: str) -> Path:
    """A workspace as `caxton init` makes it (the starter assistant), named `name`."""
    create_workspace(folder, name=name)
    return folder


def add_agent(root: Path, name: str, description: str = "A deploy-test agent.") -> None:
    (root / "agents" / f"{name}.toml").write_text(agent_toml(name, description), "utf-8")


# ----- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class Serve:
    """A `caxton serve --model test --rate-limit 0` process on a free loopback port."""

    process: subprocess.Popen[bytes]
    url: str
    port: int
    data: Path
    log: Path

    @property
    def token(self) -> str:
        return (self.data / "server" / "admin-token").read_text(encoding="utf-8").strip()

    def client(self, workspace: str, token: str | None = None) -> Client:
        return Client(self.url, token or self.token, workspace)

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        """SIGTERM, then the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_TIMEOUT)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT)


def start_server(data: Path, log: Path, *args: str, home: Path, fault: str | None = None) -> Serve:
    """Start `caxton serve` on `data` and wait for `/health`; killed if it never answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != FAULT_ENV}
    env.update(CAXTON_HOME=str(home), CAXTON_FORBID_REAL_LLM="1")
    if fault is not None:
        env[FAULT_ENV] = fault
    argv = [sys.executable, "-m", "caxton", "serve", "--data-dir", str(data)]
    argv += ["--port", str(port), "--model", "test", "--rate-limit", "0", *args]
    with log.open("ab") as out:  # a file, not a pipe nobody drains
        process = subprocess.Popen(argv, stdout=out, stderr=out, env=env, cwd=log.parent)
    server = Serve(process, f"http://127.0.0.1:{port}", port, data, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            code = process.poll()
            assert code is None, f"caxton serve exited with {code}:\n{server.output()}"
            try:
                if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"no /health in {START_TIMEOUT:.0f} s"
            time.sleep(0.05)
    except BaseException:
        server.kill()
        raise


@contextmanager
def serving(
    data: Path, log: Path, *args: str, home: Path, fault: str | None = None
) -> Iterator[Serve]:
    server = start_server(data, log, *args, home=home, fault=fault)
    try:
        yield server
    finally:
        server.kill()


def api(workspace: str) -> str:
    return f"/api/v1/workspaces/{workspace}"


def deploy(server: Serve, root: Path, workspace: str) -> dict[str, Any]:
    """`caxton deploy`'s protocol (plan, upload, apply) for the workspace at `root`."""
    with server.client(workspace) as client:
        outcome = push.push(client, root, build(root), base_version=None, git=None)
    assert outcome.deployment is not None
    return outcome.deployment


def live(client: Client) -> dict[str, Any] | None:
    found: dict[str, Any] | None = client.get("deploy")["live"]
    return found


def agents(client: Client) -> dict[str, str]:
    """The served agents: name -> description."""
    return {a["name"]: a["description"] for a in client.agents()}


def versions(client: Client) -> list[int]:
    return [d["version"] for d in client.get("deployments")["deployments"]]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_trees_hold_the_live_version(folder: Path, client: Client) -> None:
    """`trees/` holds committed versions only (no staging folder, nothing newer than the
    live one), and the live tree is exactly the live version's files."""
    current = live(client)
    assert current is not None
    version = current["version"]
    names = sorted(p.name for p in (folder / "trees").iterdir())
    assert all(n.isdigit() and int(n) <= version for n in names), names
    assert str(version) in names
    tree = folder / "trees" / str(version)
    on_disk = {
        p.relative_to(tree).as_posix(): {"sha256": sha(p.read_bytes()), "size": p.stat().st_size}
        for p in tree.rglob("*")
        if p.is_file() and not p.relative_to(tree).as_posix().startswith(".")
    }
    assert on_disk == client.get(f"deployments/{version}")["files"]


# ----- 1. SIGKILL at each step of an apply -----------------------------------------------------


@dataclass(frozen=True)
class Version1:
    """A data dir whose workspace `demo` has version 1 live (its server stopped cleanly)."""

    workspace: Path
    data: Path
    root: str


@pytest.fixture(scope="module")
def version1(tmp_path_factory: pytest.TempPathFactory) -> Version1:
    base = tmp_path_factory.mktemp("fault-v1")
    workspace = make_workspace(base / "demo", "demo")
    data, home = base / "data", base / "home"
    with serving(data, base / "serve.log", home=home) as server:
        deployed = deploy(server, workspace, "demo")
        assert deployed["version"] == 1
        assert server.stop() == 0, server.output()
    return Version1(workspace, data, deployed["root"])


LEFTOVERS = {  # the trees each kill leaves behind
    "blobs-stored": {"1"},
    "tree-staged": {"1", ".staging-"},
    "tree-placed": {"1", "2"},
    "version-committed": {"1", "2"},
}


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_sigkill_during_an_apply_leaves_the_old_or_the_new_version_whole(
    point: str, version1: Version1, tmp_path: Path
) -> None:
    data, root, home = tmp_path / "data", tmp_path / "demo", tmp_path / "home"
    shutil.copytree(version1.data, data, symlinks=True)  # each point starts from version 1
    shutil.copytree(version1.workspace, root, symlinks=True)
    add_agent(root, "extra")
    v2 = build(root)

    with serving(data, tmp_path / "faulty.log", home=home, fault=point) as faulty:
        with faulty.client("demo") as client, pytest.raises(RemoteError) as cut:
            push.push(client, root, v2, base_version=1, git=None)
        assert cut.value.status == 0, cut.value  # the connection died with the server
        assert faulty.process.wait(timeout=STOP_TIMEOUT) == -signal.SIGKILL
    folder = data / "workspaces" / "demo"
    left = {
        ".staging-" if p.name.startswith(".staging-") else p.name for p in folder.glob("trees/*")
    }
    assert left == LEFTOVERS[point]  # what the kill left for the restart to repair

    committed = point == "version-committed"
    expected = (2, v2.root) if committed else (1, version1.root)
    with serving(data, tmp_path / "restarted.log", home=home) as server:
        with server.client("demo") as client:
            current = live(client)
            assert current is not None
            assert (current["version"], current["root"]) == expected
            assert versions(client) == list(range(expected[0], 0, -1))
            audit = client.get("deploy/audit")["entries"]
            assert [(e["outcome"], e["version"]) for e in audit] == [
                ("applied", v) for v in range(expected[0], 0, -1)
            ]
            assert sorted(agents(client)) == (
                ["assistant", "extra"] if committed else ["assistant"]
            )
            assert_trees_hold_the_live_version(folder, client)
            assert push.plan(client, v2).missing == []  # the blobs were kept: nothing to resend

            add_agent(root, "extra", "Changed after the crash.")
            v3 = build(root)
            outcome = push.push(client, root, v3, base_version=expected[0], git=None)
            assert outcome.deployment is not None and outcome.blobs_sent == 1
            assert outcome.deployment["version"] == expected[0] + 1
            current = live(client)
            assert current is not None and current["root"] == v3.root
            assert agents(client)["extra"] == "Changed after the crash."
            assert_trees_hold_the_live_version(folder, client)
        assert server.stop() == 0, server.output()


# ----- the shared server -----------------------------------------------------------------------


@dataclass(frozen=True)
class Shared:
    server: Serve
    base: Path  # the module's folder: the data dir, the folder workspace, `outside/`
    outside: Path  # where a path escaping the data dir would land
    etc_passwd: bytes | None


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    """One server for the tests below, each on its own workspace name; it also serves the
    workspace FOLDER_WS from a folder (`--workspace`)."""
    base = tmp_path_factory.mktemp("deploy-faults")
    folder = make_workspace(base / "folder-ws", FOLDER_WS)
    outside = base / "outside"
    outside.mkdir()
    etc = Path("/etc/passwd")
    before = etc.read_bytes() if etc.is_file() else None
    with serving(
        base / "data", base / "serve.log", "--workspace", str(folder), home=base / "home"
    ) as server:
        yield Shared(server, base, outside, before)
        assert server.stop() == 0, server.output()


def deployed_workspace(shared: Shared, tmp_path: Path, name: str) -> Path:
    """A fresh workspace `name`, deployed as version 1 on the shared server."""
    root = make_workspace(tmp_path / name, name)
    assert deploy(shared.server, root, name)["version"] == 1
    return root


# ----- 2. two clients deploying at once ----------------------------------------------------


Applied = dict[str, Any] | RemoteError  # what `POST deployments` answered


def apply_at_once(clients: list[Client], bodies: list[dict[str, Any]]) -> list[Applied]:
    """`POST deployments` from one thread per client, all released at the same moment."""
    barrier = threading.Barrier(len(clients))
    results: list[Applied | None] = [None] * len(clients)

    def apply(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            results[i] = clients[i].post("deployments", bodies[i])
        except RemoteError as exc:
            results[i] = exc

    threads = [threading.Thread(target=apply, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    return [r for r in results if r is not None]


def test_two_clients_applying_at_once_one_wins_the_other_gets_409(
    shared: Shared, tmp_path: Path
) -> None:
    ws = "race"
    root = deployed_workspace(shared, tmp_path, ws)
    for round_ in range(3):  # three races, each on the version the last one made
        base = round_ + 1
        clones, manifests, bodies = [], [], []
        clients = [shared.server.client(ws) for _ in range(2)]
        try:
            for i, client in enumerate(clients):  # both plan on `base` and upload
                clone = tmp_path / f"round{round_}-client{i}"
                shutil.copytree(root, clone, symlinks=True, ignore=shutil.ignore_patterns(".git"))
                assistant = clone / "agents" / "assistant.toml"
                assistant.write_text(f"{assistant.read_text()}# client {i}, round {round_}\n")
                add_agent(clone, f"round{round_}-client{i}")
                manifest = build(clone)
                planned = push.plan(client, manifest)
                assert planned.live_version == base and len(planned.missing) == 2
                push.upload(client, clone, planned)
                clones.append(clone)
                manifests.append(manifest)
                bodies.append(
                    {"base_version": base, "root": manifest.root, "files": manifest.to_json()}
                )
            results = apply_at_once(clients, bodies)
        finally:
            for client in clients:
                client.close()

        won = [i for i, r in enumerate(results) if isinstance(r, dict)]
        lost = [r for r in results if isinstance(r, RemoteError)]
        assert len(won) == 1 and len(lost) == 1, results
        winner, refused = won[0], lost[0]
        assert refused.status == 409 and refused.kind == "conflict", refused
        assert refused.body["conflicts"] == ["agents/assistant.toml"]
        assert refused.body["live_version"] == base + 1
        with shared.server.client(ws) as client:
            current = live(client)
            assert current is not None
            assert (current["version"], current["root"]) == (base + 1, manifests[winner].root)
            assert versions(client) == list(range(base + 1, 0, -1))  # exactly one new version
            names = agents(client)
            assert f"round{round_}-client{winner}" in names
            assert f"round{round_}-client{1 - winner}" not in names
            audit = client.get("deploy/audit")["entries"]
            assert [(e["outcome"], e["version"]) for e in audit[:2]] == [
                ("refused", None),
                ("applied", base + 1),
            ]
        root = clones[winner]  # the next round plans on the winner's files


# ----- 3. a cut connection mid-upload, then a retry; a resumed upload --------------------------


def test_an_upload_cut_mid_body_is_retried_and_an_upload_resumes(
    shared: Shared, tmp_path: Path
) -> None:
    ws, server = "resume", shared.server
    root = deployed_workspace(shared, tmp_path, ws)
    for name in ("agent-one", "agent-two", "agent-three"):
        add_agent(root, name, f"The {name}.")
    v2 = build(root)
    with server.client(ws) as client:
        planned = push.plan(client, v2)
    assert len(planned.missing) == 3
    where = {e.sha256: p for p, e in v2.files.items()}
    body = pack((h, (root / where[h]).read_bytes()) for h in planned.missing)
    head = (
        f"POST {api(ws)}/blobs HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {server.token}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {len(body) + 100_000}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + body[: len(body) // 2])  # then the connection is cut
    deadline = time.monotonic() + 30  # until the server has dealt with the cut request
    while f"POST {api(ws)}/blobs " not in server.output():
        assert time.monotonic() < deadline, server.output()
        time.sleep(0.05)
    assert server.process.poll() is None
    with server.client(ws) as client:
        assert client.health()["status"] == "ok"
        assert push.plan(client, v2).missing == planned.missing  # nothing half-stored
        outcome = push.push(client, root, v2, base_version=1, git=None)
        assert outcome.deployment is not None and outcome.deployment["version"] == 2
        assert outcome.blobs_sent == 3
        current = live(client)
        assert current is not None and current["root"] == v2.root
        assert {"agent-one", "agent-two", "agent-three"} <= set(agents(client))

    # one batch uploaded, then the client stops before applying; the next plan resumes
    for name in ("agent-four", "agent-five", "agent-six"):
        add_agent(root, name, f"The {name}.")
    v3 = build(root)
    where = {e.sha256: p for p, e in v3.files.items()}
    with server.client(ws) as first:
        planned = push.plan(first, v3)
        assert len(planned.missing) == 3
        sent = planned.missing[0]
        answer = first.post_bytes("blobs", pack([(sent, (root / where[sent]).read_bytes())]))
        assert answer["stored"] == 1
    with server.client(ws) as second:
        again = push.plan(second, v3)
        assert again.live_version == 2 and again.missing == planned.missing[1:]
        outcome = push.push(second, root, v3, base_version=2, git=None, planned=again)
        assert outcome.deployment is not None and outcome.deployment["version"] == 3
        assert outcome.blobs_sent == 2
        current = live(second)
        assert current is not None and current["root"] == v3.root
        assert_trees_hold_the_live_version(server.data / "workspaces" / ws, second)


# ----- 4. hostile manifests --------------------------------------------------------------------

PWNED = b"pwned: this must never be written to disk\n"
NEVER_UPLOADED = sha(b"a blob no one ever uploads")
HOSTILE_PATHS = {
    "dotdot": "../../../../../passwd",  # from trees/.staging-*: the module's folder
    "dotdot-inside": "agents/../../../../../../passwd",
    "etc-passwd": "/etc/passwd",  # its blob is never uploaded: nothing could be written
    "absolute": "{outside}/passwd",
    "nul": "agents/a\x00.toml",
    "newline": "agents/a\n.toml",
    "backslash": "agents\\a.toml",
    "backslash-dotdot": "agents\\..\\..\\..\\..\\..\\..\\passwd",
    "drive": "C:/passwd",
    "dotfile": "agents/.passwd.toml",
    "dot-caxton": ".caxton/passwd",  # a tree's `.caxton` is the workspace's state folder
    "not-deployed": "passwd",
    "empty-part": "agents//passwd.toml",
    "not-nfc": "agents/cafe\u0301.toml",
}


@pytest.fixture(scope="module")
def hostile(shared: Shared, tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    """Workspace `hostile` with version 1 live, and the PWNED blob on the server: a path the
    server failed to check would be written."""
    root = make_workspace(tmp_path_factory.mktemp("hostile") / "hostile", "hostile")
    assert deploy(shared.server, root, "hostile")["version"] == 1
    with shared.server.client("hostile") as client:
        assert client.post_bytes("blobs", pack([(sha(PWNED), PWNED)]))["received"] == 1
    return build(root)


def assert_nothing_written(shared: Shared, v1: Manifest) -> None:
    with shared.server.client("hostile") as client:
        current = live(client)
        assert current is not None and (current["version"], current["root"]) == (1, v1.root)
        assert versions(client) == [1]
    assert not [p for p in shared.base.rglob("*") if "passwd" in p.name]
    assert list(shared.outside.iterdir()) == []
    trees = shared.server.data / "workspaces" / "hostile" / "trees"
    assert sorted(p.name for p in trees.iterdir()) == ["1"]
    if shared.etc_passwd is not None:
        assert Path("/etc/passwd").read_bytes() == shared.etc_passwd


@pytest.mark.parametrize("path", HOSTILE_PATHS.values(), ids=HOSTILE_PATHS.keys())
def test_a_hostile_manifest_path_is_a_400_and_nothing_is_written(
    shared: Shared, hostile: Manifest, path: str
) -> None:
    path = path.replace("{outside}", str(shared.outside))
    digest = NEVER_UPLOADED if path == "/etc/passwd" else sha(PWNED)
    files = {**hostile.to_json(), path: {"sha256": digest, "size": len(PWNED)}}
    root = merkle_root({p: FileEntry(e["sha256"], e["size"]) for p, e in files.items()})
    with shared.server.http() as http:
        for route, body in (
            ("deploy/plan", {"root": root, "files": files}),
            ("deployments", {"base_version": 1, "root": root, "files": files}),
        ):
            response = http.post(f"{api('hostile')}/{route}", json=body)
            assert response.status_code == 400, (route, response.text)
            answer = response.json()
            assert answer["error"] == "bad_request", answer
            assert answer["detail"] and answer["hint"], answer
    assert_nothing_written(shared, hostile)


def test_a_root_that_does_not_match_the_files_is_a_400(shared: Shared, hostile: Manifest) -> None:
    files = {**hostile.to_json(), "agents/extra.toml": {"sha256": sha(PWNED), "size": len(PWNED)}}
    with shared.server.http() as http:
        for root in (hostile.root, "0" * 64):
            for route, body in (
                ("deploy/plan", {"root": root, "files": files}),
                ("deployments", {"base_version": 1, "root": root, "files": files}),
            ):
                response = http.post(f"{api('hostile')}/{route}", json=body)
                assert response.status_code == 400, (route, response.text)
                answer = response.json()
                assert answer["error"] == "bad_request"
                assert "do not hash to the root" in answer["detail"] and answer["hint"]
    assert_nothing_written(shared, hostile)


def test_a_symlink_in_the_workspace_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the server\n")
    root = make_workspace(tmp_path / "linked", "linked")
    (root / "agents" / "link.toml").symlink_to(secret)
    with pytest.raises(ManifestError, match="symlink"):
        build(root)
    (root / "agents" / "link.toml").unlink()
    build(root)  # without it, the workspace deploys
    config = root / "caxton.toml"
    kept = tmp_path / "caxton.toml"
    config.rename(kept)
    config.symlink_to(kept)
    with pytest.raises(ManifestError, match="symlink"):
        build(root)
    config.unlink()
    kept.rename(config)
    prompts = tmp_path / "elsewhere"
    prompts.mkdir()
    (root / "prompts").symlink_to(prompts, target_is_directory=True)
    with pytest.raises(ManifestError, match="symlink"):
        build(root)


# ----- 5. a 100 MB file ------------------------------------------------------------------------


def huge_manifest(base: Manifest, count: int = 1, size: int = MB100) -> Manifest:
    files: dict[str, Any] = dict(base.to_json())
    for i in range(count):
        files[f"agents/huge-{i}.toml"] = {"sha256": sha(b"huge %d" % i), "size": size}
    return Manifest.from_json(files)


def test_a_100_mb_file_is_refused_by_the_client_and_by_the_server(
    shared: Shared, tmp_path: Path
) -> None:
    ws = "big"
    root = deployed_workspace(shared, tmp_path, ws)
    v1 = build(root)
    one_huge = huge_manifest(v1)
    over_total = huge_manifest(v1, count=26, size=MAX_FILE_BYTES)  # 26 x 10 MiB > 256 MiB
    with shared.server.client(ws) as client:
        planned = push.plan(client, one_huge)
        assert planned.limits["file_bytes"] == MAX_FILE_BYTES
        with pytest.raises(UsageError) as refused:
            push.check_limits(planned)
        assert "agents/huge-0.toml" in refused.value.message
        assert (
            f"{MB100:,}" in refused.value.message and f"{MAX_FILE_BYTES:,}" in refused.value.message
        )
        with pytest.raises(UsageError, match="at most"):  # push refuses before any upload
            push.push(client, root, one_huge, base_version=1, git=None)
        with pytest.raises(UsageError, match="add up to"):
            push.check_limits(push.plan(client, over_total))

        for manifest, limit in ((one_huge, MAX_FILE_BYTES), (over_total, 256 << 20)):
            body = {"base_version": 1, "root": manifest.root, "files": manifest.to_json()}
            with pytest.raises(RemoteError) as too_big:
                client.post("deployments", body)
            assert too_big.value.status == 413
            assert str(limit) in too_big.value.message and too_big.value.hint

        current = live(client)
        assert current is not None and (current["version"], current["root"]) == (1, v1.root)
        assert versions(client) == [1]
        audit = client.get("deploy/audit")["entries"]
        assert [e["outcome"] for e in audit] == ["refused", "refused", "applied"]


def test_an_apply_with_a_100_mb_file_answers_413(shared: Shared) -> None:
    files = {"agents/huge.toml": {"sha256": sha(b"huge"), "size": MB100}}
    manifest = Manifest.from_json(files)
    with shared.server.http() as http:
        response = http.post(
            f"{api('big-first')}/deployments",
            json={"base_version": 0, "root": manifest.root, "files": files},
        )
    answer = response.json()
    assert str(MAX_FILE_BYTES) in answer["detail"]
    assert (response.status_code, answer["error"]) == (413, "payload_too_large")


# ----- 5b. one size limit per request of blobs: the one `GET deploy` advertises --------------


def post_blobs(server: Serve, ws: str, body: bytes) -> httpx.Response:
    with server.http() as http:
        return http.post(
            f"{api(ws)}/blobs",
            content=body,
            headers={"Content-Type": "application/octet-stream"},
        )


def packed_to(size: int) -> bytes:
    """Blobs of random bytes (no file over the file limit) packed without compression to
    exactly `size` bytes as sent, which is more than they unpack to."""
    count = size // MAX_FILE_BYTES + 1
    data = os.urandom(size)

    def body(last: int) -> bytes:
        datas = [data[i * MAX_FILE_BYTES : (i + 1) * MAX_FILE_BYTES] for i in range(count - 1)]
        datas.append(data[: max(0, last)])
        return pack(((sha(d), d) for d in datas), level=0)

    last = size - (count - 1) * MAX_FILE_BYTES
    for _ in range(5):  # zlib's stored blocks and the frame headers add a little: take it off
        built = body(last)
        if len(built) == size:
            return built
        last -= len(built) - size
    raise AssertionError(f"no packing of exactly {size} bytes")


def repeats_unpacking_to(size: int) -> bytes:
    """Blobs of one repeated byte each whose frames unpack to exactly `size` bytes (a few KiB
    as sent)."""
    sizes = [MAX_FILE_BYTES] * (size // (MAX_FILE_BYTES + 100))
    rest = size - sum(frame_bytes(s) for s in sizes)
    sizes.append(next(n for n in range(rest, 0, -1) if frame_bytes(n) == rest))
    datas = [bytes([i]) * n for i, n in enumerate(sizes)]
    return pack((sha(d), d) for d in datas)


def test_a_request_of_blobs_over_the_advertised_limit_is_a_413_and_one_at_it_is_stored(
    shared: Shared,
) -> None:
    """The Gate's bound, what `unpack` takes and what `GET deploy` says are one number, so a
    client sizing its requests by the advertised limit is never refused."""
    ws, server = "upload-limit", shared.server
    with server.client(ws) as client:
        limit = client.get("deploy")["limits"]["upload_bytes"]
    assert limit == MAX_UPLOAD_BYTES == Limits().upload_bytes

    over = post_blobs(server, ws, b"\0" * (limit + 1))  # refused on its Content-Length
    assert (over.status_code, over.json()["error"]) == (413, "payload_too_large")
    assert str(limit) in over.json()["detail"] and over.json()["hint"]
    bomb = post_blobs(server, ws, repeats_unpacking_to(limit + 1))
    assert (bomb.status_code, bomb.json()["error"]) == (413, "payload_too_large")
    assert f"more than {limit} bytes" in bomb.json()["detail"]

    for body in (packed_to(limit), repeats_unpacking_to(limit)):
        at_limit = post_blobs(server, ws, body)
        assert at_limit.status_code == 200, at_limit.text
        assert at_limit.json()["stored"] == at_limit.json()["received"] > 1


# ----- 6. a config that fails validation -------------------------------------------------------


def test_a_config_that_fails_validation_is_a_422_with_every_problem(
    shared: Shared, tmp_path: Path
) -> None:
    ws = "broken"
    root = deployed_workspace(shared, tmp_path, ws)
    v1 = build(root)
    (root / "agents" / "broken.toml").write_text('name = "broken"\ndescription = [\n')
    add_agent(root, "fine")
    v2 = build(root)
    with shared.server.client(ws) as client:
        planned = push.plan(client, v2)
        push.upload(client, root, planned)
        body = {"base_version": 1, "root": v2.root, "files": v2.to_json()}
        with pytest.raises(RemoteError) as refused:
            client.post("deployments", body)
        assert refused.value.status == 422 and refused.value.kind == "invalid"
        assert "agents/broken.toml:2:" in refused.value.message
        problems = refused.value.body["problems"]
        assert [(p["path"], p["line"]) for p in problems] == [("agents/broken.toml", 2)]
        assert problems[0]["col"] >= 1 and problems[0]["message"]

        current = live(client)
        assert current is not None and (current["version"], current["root"]) == (1, v1.root)
        assert versions(client) == [1]
        assert sorted(agents(client)) == ["assistant"]
        audit = client.get("deploy/audit")["entries"]
        assert audit[0]["outcome"] == "refused" and "agents/broken.toml" in audit[0]["detail"]
        assert audit[0]["who"] == "admin" and audit[0]["version"] is None
        assert_trees_hold_the_live_version(shared.server.data / "workspaces" / ws, client)


# ----- 7. a token without deploy rights --------------------------------------------------------


def test_a_viewer_token_reads_deploys_but_cannot_make_one(shared: Shared, tmp_path: Path) -> None:
    ws = "viewed"
    root = deployed_workspace(shared, tmp_path, ws)
    made = subprocess.run(
        [sys.executable, "-m", "caxton", "token", "create", "--workspace", ws, "--role",
         "viewer", "--ttl", "1h", "--subject", "watcher", "--data-dir", str(shared.server.data)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    add_agent(root, "extra")
    v2 = build(root)
    extra = (root / "agents" / "extra.toml").read_bytes()
    body = {"base_version": 1, "root": v2.root, "files": v2.to_json()}
    with shared.server.client(ws, token) as viewer:
        status = viewer.get("deploy")
        assert status["deployable"] is True and status["live"]["version"] == 1
        assert versions(viewer) == [1]
        assert viewer.get("deploy/audit")["entries"][0]["outcome"] == "applied"
        calls: list[Callable[[], Any]] = [
            lambda: viewer.post("deploy/plan", {"root": v2.root, "files": v2.to_json()}),
            lambda: viewer.post_bytes("blobs", pack([(sha(extra), extra)])),
            lambda: viewer.post("deployments", body),
        ]
        for refused_call in calls:
            with pytest.raises(RemoteError) as refused:
                refused_call()
            assert refused.value.status == 403 and refused.value.kind == "forbidden"
            assert "deployer" in refused.value.message
    with shared.server.client(ws) as admin:
        assert push.plan(admin, v2).missing == [sha(extra)]  # the refused upload stored nothing
        assert versions(admin) == [1]


# ----- 8. a deploy to a workspace it is not ----------------------------------------------------


def test_a_deploy_naming_another_workspace_is_a_409(shared: Shared, tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "other", "other")
    with shared.server.client("demo") as client:
        with pytest.raises(RemoteError) as refused:
            push.push(client, root, build(root), base_version=None, git=None)
        assert refused.value.status == 409 and refused.value.kind == "conflict"
        assert "'other'" in refused.value.message and "'demo'" in refused.value.message
        assert live(client) is None
        audit = client.get("deploy/audit")["entries"]
        assert [e["outcome"] for e in audit] == ["refused"]
    with shared.server.client("other") as client:
        assert live(client) is None
    assert not (shared.server.data / "workspaces" / "other").exists()


def test_a_workspace_served_from_a_folder_takes_no_deploys(shared: Shared) -> None:
    root = shared.base / "folder-ws"
    manifest = build(root)
    config = (root / "caxton.toml").read_bytes()
    with shared.server.client(FOLDER_WS) as client:
        status = client.get("deploy")
        assert status["deployable"] is False and status["live"] is None
        files = manifest.to_json()
        calls: list[Callable[[], Any]] = [
            lambda: client.post("deploy/plan", {"root": manifest.root, "files": files}),
            lambda: client.post_bytes("blobs", pack([(sha(config), config)])),
            lambda: client.post(
                "deployments", {"base_version": 0, "root": manifest.root, "files": files}
            ),
        ]
        for refused_call in calls:
            with pytest.raises(RemoteError) as refused:
                refused_call()
            assert refused.value.status == 409 and refused.value.kind == "conflict"
            assert "served from the folder" in refused.value.message
            assert str(root) in refused.value.message
        assert sorted(agents(client)) == ["assistant"]  # still served, from its folder
        assert versions(client) == []
        assert client.get("deploy/audit")["entries"] == []
