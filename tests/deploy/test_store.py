"""The deploy store: blobs, the upload format, all-or-nothing applies, and crash recovery."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import caxton.deploy.store as store_module
from caxton.deploy.manifest import FileEntry, Manifest
from caxton.deploy.store import (
    COMPLETE_MARK,
    TREES_DIR,
    ApplyRequest,
    Deployment,
    DeployStore,
    StaleBase,
    TooLarge,
    batches,
    frame_bytes,
    pack,
    unpack,
)
from caxton.errors import ConflictError, NotFoundError, UsageError
from caxton.paths import STATE_DIR


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_of(files: dict[str, bytes]) -> Manifest:
    return Manifest.of({p: FileEntry(sha(d), len(d)) for p, d in files.items()})


def upload(store: DeployStore, files: dict[str, bytes]) -> Manifest:
    store.put_blobs([(sha(d), d) for d in files.values()])
    return manifest_of(files)


def deploy(
    store: DeployStore, files: dict[str, bytes], base: int, who: str = "ana"
) -> tuple[Deployment, Manifest]:
    manifest = upload(store, files)
    record, _ = store.apply(ApplyRequest(base, manifest, who), None)
    return record, manifest


def tree_files(folder: Path) -> dict[str, bytes]:
    """Every plain file under `folder` (symlinks not followed), by relative POSIX path."""
    found: dict[str, bytes] = {}
    for here, _dirs, names in os.walk(folder):  # os.walk does not enter symlinked folders
        for name in names:
            path = Path(here) / name
            if not path.is_symlink():
                found[path.relative_to(folder).as_posix()] = path.read_bytes()
    return found


def tree_names(store: DeployStore) -> list[str]:
    return sorted(p.name for p in store.trees.iterdir())


V1 = {
    "caxton.toml": b'name = "ws"\n',
    "agents/a.toml": b'name = "a"\n',
    "agents/b.toml": b'name = "b"\n',
    "prompts/deep/system.md": b"be brief\n",
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DeployStore]:
    opened = DeployStore.open(tmp_path / "ws", "ws")
    yield opened
    opened.close()


def reopen(store: DeployStore) -> DeployStore:
    store.close()
    return DeployStore.open(store.folder, store.name)


# ----- blobs -----------------------------------------------------------------------------------


def test_stored_blobs_are_no_longer_missing(store: DeployStore) -> None:
    blobs = [(sha(b"one"), b"one"), (sha(b"two"), b"two")]
    assert store.missing([h for h, _ in blobs]) == sorted(h for h, _ in blobs)
    assert store.put_blobs(blobs) == 2
    assert store.missing([h for h, _ in blobs]) == []
    assert store.missing([sha(b"one"), sha(b"three")]) == [sha(b"three")]
    assert dict(store.blobs([sha(b"two"), sha(b"absent")])) == {sha(b"two"): b"two"}


def test_missing_of_nothing_is_nothing(store: DeployStore) -> None:
    assert store.missing([]) == []


def test_missing_handles_more_hashes_than_one_query_holds(store: DeployStore) -> None:
    datas = [str(i).encode() for i in range(1200)]
    store.put_blobs([(sha(d), d) for d in datas[::2]])
    assert store.missing(sha(d) for d in datas) == sorted(sha(d) for d in datas[1::2])


def test_storing_a_blob_again_stores_nothing(store: DeployStore) -> None:
    blobs = [(sha(b"x"), b"x"), (sha(b""), b"")]
    assert store.put_blobs(blobs) == 2
    assert store.put_blobs(blobs) == 0
    assert store.put_blobs([*blobs, (sha(b"y"), b"y")]) == 1


def test_a_blob_that_does_not_match_its_hash_is_refused_and_nothing_is_stored(
    store: DeployStore,
) -> None:
    good = (sha(b"good"), b"good")
    with pytest.raises(UsageError, match="does not match"):
        store.put_blobs([good, (sha(b"claimed"), b"actual")])
    assert store.missing([good[0]]) == [good[0]]


def test_a_blob_over_the_file_limit_is_refused(
    store: DeployStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "MAX_FILE_BYTES", 8)
    with pytest.raises(TooLarge) as caught:
        store.put_blobs([(sha(b"123456789"), b"123456789")])
    assert caught.value.http_status == 413
    assert store.put_blobs([(sha(b"12345678"), b"12345678")]) == 1


# ----- the upload format -----------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8), st.integers(0, 9))
def test_pack_then_unpack_gives_back_the_blobs(datas: list[bytes], level: int) -> None:
    blobs = [(sha(d), d) for d in datas]
    assert unpack(pack(blobs, level)) == blobs


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=200), min_size=1, max_size=4), st.data())
def test_any_truncated_upload_is_refused(datas: list[bytes], data: st.DataObject) -> None:
    body = pack([(sha(d), d) for d in datas])
    cut = data.draw(st.integers(0, len(body) - 1))
    with pytest.raises(UsageError):
        unpack(body[:cut])


@pytest.mark.parametrize("body", [b"", b"not zlib at all", b"\x78\x9c\xff\xff\xff\xff"])
def test_an_upload_that_is_not_zlib_is_refused(body: bytes) -> None:
    with pytest.raises(UsageError):
        unpack(body)


@pytest.mark.parametrize(
    "raw",
    [
        b"no newline anywhere",
        b"\n",
        b"a" * 64 + b"\n",  # no size
        b"a" * 64 + b" x1\nx",  # size not a number
        b"a" * 64 + b" 1 2\nx",  # three fields
        b"A" * 64 + b" 1\nx",  # not lowercase hex
        b"abc 1\nx",  # too short to be a SHA-256
        b"a" * 64 + b" " + b"1" * 200 + b"\nx",  # header longer than any real one
    ],
)
def test_an_upload_with_a_bad_frame_header_is_refused(raw: bytes) -> None:
    with pytest.raises(UsageError, match="frame"):
        unpack(zlib.compress(raw))


def test_a_frame_cut_short_is_refused() -> None:
    with pytest.raises(UsageError, match="cut short"):
        unpack(zlib.compress(f"{sha(b'abcdef')} 6\n".encode() + b"abc"))


def test_a_good_frame_then_garbage_is_refused() -> None:
    raw = zlib.decompress(pack([(sha(b"ok"), b"ok")])) + b"garbage"
    with pytest.raises(UsageError, match="frame"):
        unpack(zlib.compress(raw))


def test_sizes_are_of_the_stored_blobs_only(store: DeployStore) -> None:
    datas = [str(i).encode() * i for i in range(1, 700)]  # more than one query holds
    store.put_blobs([(sha(d), d) for d in datas[::2]])
    assert store.sizes(sha(d) for d in datas) == {sha(d): len(d) for d in datas[::2]}
    assert store.sizes([]) == {}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_frame_bytes_is_what_a_blob_takes_unpacked(datas: list[bytes]) -> None:
    body = pack([(sha(d), d) for d in datas])
    assert len(zlib.decompress(body)) == sum(frame_bytes(len(d)) for d in datas)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 5000), max_size=30), st.integers(1, 8000))
def test_batches_keep_the_order_and_stay_under_the_limit(sizes: list[int], limit: int) -> None:
    digests = [f"{i:064x}" for i in range(len(sizes))]
    size_of = dict(zip(digests, sizes, strict=True))
    grouped = list(batches(zip(digests, sizes, strict=True), limit))
    assert [d for batch in grouped for d in batch] == digests
    for batch in grouped:
        total = sum(frame_bytes(size_of[d]) for d in batch)
        assert batch and (total <= limit or len(batch) == 1)  # too big for any: alone
    for first, second in itertools.pairwise(grouped):  # each batch as full as it can be
        assert sum(frame_bytes(size_of[d]) for d in [*first, second[0]]) > limit


def test_an_upload_that_unpacks_past_the_limit_is_refused() -> None:
    data = b"\x00" * 5000  # compresses to almost nothing
    body = pack([(sha(data), data)])
    assert len(body) < 100
    with pytest.raises(TooLarge):
        unpack(body, max_bytes=1000)
    assert unpack(body, max_bytes=len(zlib.decompress(body))) == [(sha(data), data)]
    with pytest.raises(TooLarge):
        unpack(body, max_bytes=len(zlib.decompress(body)) - 1)


# ----- applying versions -----------------------------------------------------------------------


def test_nothing_is_live_in_a_new_store(store: DeployStore) -> None:
    assert store.live() is None
    assert store.history() == []
    assert store.live_manifest().root == Manifest.of({}).root
    with pytest.raises(NotFoundError):
        store.deployment(1)


def test_the_first_version_is_1_and_its_tree_holds_exactly_its_files(
    store: DeployStore,
) -> None:
    manifest = upload(store, V1)
    record, changes = store.apply(ApplyRequest(0, manifest, "ana", message="first"), None)
    assert record.version == 1
    assert record.root == manifest.root
    assert (record.added, record.modified, record.deleted) == (4, 0, 0)
    assert record.bytes == manifest.size
    assert changes.added == tuple(sorted(V1))
    tree = store.tree(1)
    assert tree == store.trees / "1"
    assert tree_files(tree) == {**V1, COMPLETE_MARK: f"1 {manifest.root}\n".encode()}
    link = tree / STATE_DIR
    assert link.is_symlink()
    assert link.resolve() == store.state.resolve()
    assert tree_names(store) == ["1"]
    live = store.live()
    assert live is not None and live.version == 1 and live.message == "first"
    assert store.live_manifest().root == manifest.root


def test_tree_state_link_reaches_the_shared_state_folder(store: DeployStore) -> None:
    deploy(store, V1, 0)
    deploy(store, {**V1, "agents/a.toml": b"changed"}, 1)
    (store.tree(1) / STATE_DIR / "memory.db").write_bytes(b"remembered")
    assert (store.tree(2) / STATE_DIR / "memory.db").read_bytes() == b"remembered"
    assert (store.state / "memory.db").read_bytes() == b"remembered"


def test_a_second_version_counts_its_changes(store: DeployStore) -> None:
    deploy(store, V1, 0)
    v2 = {**V1, "agents/a.toml": b"new a", "prompts/p.md": b"p"}
    del v2["agents/b.toml"]
    manifest = upload(store, v2)
    record, changes = store.apply(ApplyRequest(1, manifest, "bo"), None)
    assert record.version == 2
    assert (record.added, record.modified, record.deleted) == (1, 1, 1)
    assert changes.added == ("prompts/p.md",)
    assert changes.modified == ("agents/a.toml",)
    assert changes.deleted == ("agents/b.toml",)
    assert set(tree_files(store.tree(2))) == {*v2, COMPLETE_MARK}
    assert {p: d for p, d in tree_files(store.tree(1)).items() if p != COMPLETE_MARK} == V1
    assert store.deployment(2).manifest().root == manifest.root


def test_a_stale_base_is_refused_naming_the_files_changed_on_both_sides(
    store: DeployStore,
) -> None:
    deploy(store, V1, 0)
    deploy(store, {**V1, "agents/a.toml": b"theirs", "prompts/p.md": b"theirs"}, 1, who="bo")
    mine = upload(store, {**V1, "agents/a.toml": b"mine", "agents/b.toml": b"mine too"})
    with pytest.raises(StaleBase) as caught:
        store.apply(ApplyRequest(1, mine, "ana"), None)
    assert caught.value.extra == {"conflicts": ["agents/a.toml"], "live_version": 2}
    assert "agents/a.toml" in caught.value.message
    assert isinstance(caught.value, ConflictError)
    live = store.live()
    assert live is not None and live.version == 2
    assert tree_names(store) == ["1", "2"]


def test_a_stale_base_without_overlap_names_every_file_changed_since(
    store: DeployStore,
) -> None:
    deploy(store, V1, 0)
    deploy(store, {**V1, "agents/a.toml": b"theirs", "prompts/p.md": b"theirs"}, 1)
    mine = upload(store, {**V1, "agents/b.toml": b"mine"})
    with pytest.raises(StaleBase) as caught:
        store.apply(ApplyRequest(1, mine, "ana"), None)
    assert caught.value.extra["conflicts"] == ["agents/a.toml", "prompts/p.md"]


@pytest.mark.parametrize("base", [0, 5])
def test_an_unknown_base_is_stale_against_every_live_file(store: DeployStore, base: int) -> None:
    deploy(store, V1, 0)
    mine = upload(store, {**V1, "agents/c.toml": b"c"})
    with pytest.raises(StaleBase) as caught:
        store.apply(ApplyRequest(base, mine, "ana"), None)
    assert caught.value.extra == {"conflicts": sorted(V1), "live_version": 1}


def test_applying_before_every_blob_is_uploaded_is_refused(store: DeployStore) -> None:
    manifest = manifest_of(V1)
    store.put_blobs([(sha(V1["caxton.toml"]), V1["caxton.toml"])])
    with pytest.raises(ConflictError) as caught:
        store.apply(ApplyRequest(0, manifest, "ana"), None)
    assert not isinstance(caught.value, StaleBase)
    assert "3 file(s)" in caught.value.message
    assert store.live() is None
    assert tree_names(store) == []


def test_a_version_without_a_workspace_file_is_refused(store: DeployStore) -> None:
    manifest = upload(store, {"agents/a.toml": b"a"})
    with pytest.raises(UsageError, match=r"caxton\.toml"):
        store.apply(ApplyRequest(0, manifest, "ana"), None)
    assert store.live() is None


def test_a_version_with_a_file_over_the_limit_is_refused(
    store: DeployStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = upload(store, V1)
    monkeypatch.setattr(store_module, "MAX_FILE_BYTES", 10)
    with pytest.raises(TooLarge, match=r"prompts/deep/system\.md|agents/a\.toml"):
        store.apply(ApplyRequest(0, manifest, "ana"), None)
    assert store.live() is None


def test_a_version_over_the_workspace_limit_is_refused(
    store: DeployStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = upload(store, V1)
    monkeypatch.setattr(store_module, "MAX_WORKSPACE_BYTES", manifest.size - 1)
    with pytest.raises(TooLarge):
        store.apply(ApplyRequest(0, manifest, "ana"), None)
    assert store.live() is None


def test_a_check_that_refuses_leaves_the_live_version_and_no_extra_tree(
    store: DeployStore,
) -> None:
    deploy(store, V1, 0)
    manifest = upload(store, {**V1, "agents/a.toml": b"broken"})
    seen: list[dict[str, bytes]] = []

    def check(tree: Path) -> None:
        seen.append(tree_files(tree))
        raise UsageError("agent a does not validate")

    with pytest.raises(UsageError, match="does not validate"):
        store.apply(ApplyRequest(1, manifest, "ana"), check)
    assert seen and seen[0]["agents/a.toml"] == b"broken"  # the check saw the staged tree
    live = store.live()
    assert live is not None and live.version == 1
    assert [d.version for d in store.history()] == [1]
    assert tree_names(store) == ["1"]
    assert tree_files(store.tree(1))["agents/a.toml"] == V1["agents/a.toml"]


def test_a_check_that_passes_lets_the_version_through(store: DeployStore) -> None:
    manifest = upload(store, V1)
    checked: list[Path] = []
    record, _ = store.apply(ApplyRequest(0, manifest, "ana"), checked.append)
    assert record.version == 1
    assert len(checked) == 1 and checked[0].name.startswith(".staging-")
    assert not checked[0].exists()
    assert tree_names(store) == ["1"]


def test_history_is_newest_first(store: DeployStore) -> None:
    for version in range(1, 4):
        deploy(
            store, {**V1, "agents/a.toml": str(version).encode()}, version - 1, who=f"w{version}"
        )
    assert [d.version for d in store.history()] == [3, 2, 1]
    assert [d.who for d in store.history()] == ["w3", "w2", "w1"]
    assert [d.version for d in store.history(limit=2)] == [3, 2]
    assert store.history()[0].files == {}  # files only when asked for
    assert json.loads(json.dumps(store.deployment(2).to_json(with_files=True)))["files"]


def test_a_request_is_recorded_with_what_it_says(store: DeployStore) -> None:
    manifest = upload(store, V1)
    request = ApplyRequest(
        0, manifest, "ana", commit="abc123", branch="main", dirty=True, message="ship it"
    )
    store.apply(request, None)
    record = store.deployment(1)
    assert (record.who, record.commit, record.branch, record.dirty, record.message) == (
        "ana",
        "abc123",
        "main",
        True,
        "ship it",
    )
    assert record.kind == "deploy" and record.rollback_of is None


def test_the_audit_log_records_applied_and_refused(store: DeployStore) -> None:
    manifest = upload(store, V1)
    request = ApplyRequest(0, manifest, "ana", commit="c1")
    store.apply(request, None)
    stale = upload(store, {**V1, "agents/a.toml": b"late"})
    late = ApplyRequest(0, stale, "bo", commit="c2")
    with pytest.raises(StaleBase) as caught:
        store.apply(late, None)
    store.refused(late, caught.value)
    audit = store.audit()
    assert [(a["who"], a["outcome"], a["version"], a["commit"]) for a in audit] == [
        ("bo", "refused", None, "c2"),
        ("ana", "applied", 1, "c1"),
    ]
    assert audit[0]["detail"] == caught.value.message
    assert audit[0]["action"] == "deploy"
    assert json.loads(audit[1]["detail"])["added"] == sorted(V1)
    assert len(store.audit(limit=1)) == 1


# ----- recovery --------------------------------------------------------------------------------


def test_leftover_staging_and_uncommitted_trees_go_on_open(store: DeployStore) -> None:
    deploy(store, V1, 0)
    for name in (".staging-xyz", "2", "17"):
        (store.trees / name / "agents").mkdir(parents=True)
        (store.trees / name / "agents" / "x.toml").write_bytes(b"half written")
    store = reopen(store)
    try:
        assert tree_names(store) == ["1"]
        assert tree_files(store.tree(1))["agents/a.toml"] == V1["agents/a.toml"]
    finally:
        store.close()


def test_an_uncommitted_tree_goes_when_nothing_is_live(tmp_path: Path) -> None:
    (tmp_path / "ws" / TREES_DIR / "1").mkdir(parents=True)
    (tmp_path / "ws" / TREES_DIR / ".staging-abc").mkdir()
    store = DeployStore.open(tmp_path / "ws", "ws")
    try:
        assert tree_names(store) == []
    finally:
        store.close()


def test_an_apply_after_a_leftover_tree_replaces_it(store: DeployStore) -> None:
    deploy(store, V1, 0)
    (store.trees / "2").mkdir()
    (store.trees / "2" / "stray.toml").write_bytes(b"stray")
    deploy(store, {**V1, "agents/a.toml": b"2"}, 1)
    assert "stray.toml" not in tree_files(store.tree(2))


@pytest.mark.parametrize(
    "damage",
    ["edit", "delete-file", "delete-folder", "delete-mark", "wrong-mark", "file-to-folder"],
)
def test_a_damaged_live_tree_is_rebuilt_exactly_on_open(store: DeployStore, damage: str) -> None:
    _, manifest = deploy(store, V1, 0)
    expected = tree_files(store.tree(1))
    tree = store.tree(1)
    if damage == "edit":
        (tree / "agents" / "a.toml").write_bytes(b"tampered")
    elif damage == "delete-file":
        (tree / "prompts" / "deep" / "system.md").unlink()
    elif damage == "delete-folder":
        shutil.rmtree(tree)
    elif damage == "delete-mark":
        (tree / COMPLETE_MARK).unlink()
    elif damage == "wrong-mark":
        (tree / COMPLETE_MARK).write_text("1 " + "0" * 64 + "\n", encoding="utf-8")
    else:
        (tree / "agents" / "b.toml").unlink()
        (tree / "agents" / "b.toml").mkdir()
    (store.state / "memory.db").write_bytes(b"kept")
    store = reopen(store)
    try:
        assert tree_files(store.tree(1)) == expected
        assert (store.tree(1) / STATE_DIR).is_symlink()
        assert (store.tree(1) / STATE_DIR / "memory.db").read_bytes() == b"kept"
        assert tree_names(store) == ["1"]
        assert store.live_manifest().root == manifest.root
    finally:
        store.close()


def test_a_sound_live_tree_is_left_alone_on_open(store: DeployStore) -> None:
    deploy(store, V1, 0)
    inode = (store.tree(1) / "caxton.toml").stat().st_ino
    store = reopen(store)
    try:
        assert (store.tree(1) / "caxton.toml").stat().st_ino == inode
    finally:
        store.close()


def test_an_extra_file_in_the_live_tree_is_removed_on_open(store: DeployStore) -> None:
    deploy(store, V1, 0)
    (store.tree(1) / "agents" / "rogue.toml").write_bytes(b'name = "rogue"\n')
    store = reopen(store)
    try:
        assert "agents/rogue.toml" not in tree_files(store.tree(1))
    finally:
        store.close()


def test_a_missing_state_link_in_the_live_tree_is_restored_on_open(store: DeployStore) -> None:
    deploy(store, V1, 0)
    (store.tree(1) / STATE_DIR).unlink()
    store = reopen(store)
    try:
        assert (store.tree(1) / STATE_DIR).is_symlink()
    finally:
        store.close()
