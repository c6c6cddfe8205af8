"""The deploy manifest: safe paths, the Merkle root, diffs, and building one from a folder."""

from __future__ import annotations

import hashlib
import os
import random
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caxton.deploy.manifest import (
    EMPTY_ROOT,
    MAX_PATH_CHARS,
    FileEntry,
    Manifest,
    ManifestError,
    build,
    check_path,
    deployable,
    merkle_root,
    workspace_files,
)


def entry(data: bytes) -> FileEntry:
    return FileEntry(hashlib.sha256(data).hexdigest(), len(data))


# ----- strategies ------------------------------------------------------------------------------

names = (
    st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"], exclude_characters="/\\"),
        min_size=1,
        max_size=10,
    )
    .map(lambda s: unicodedata.normalize("NFC", s))
    .filter(lambda s: not s.startswith(".") and unicodedata.normalize("NFC", s) == s)
)
ascii_names = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,8}", fullmatch=True)
folders = st.lists(names, max_size=2)
safe_paths = st.one_of(
    st.just("caxton.toml"),
    st.builds(lambda d, n: "/".join(["agents", *d, n + ".toml"]), folders, names),
    st.builds(lambda d, n: "/".join(["prompts", *d, n]), folders, names),
    st.builds(lambda t: f"tools/{t}/tool.toml", names),
    st.builds(lambda t, d, n: "/".join(["tools", t, *d, n + ".wasm"]), names, folders, names),
)
digests = st.binary(max_size=16).map(lambda b: hashlib.sha256(b).hexdigest())
entries = st.builds(FileEntry, digests, st.integers(0, 10**6))


def no_file_folder_clash(files: dict[str, FileEntry]) -> bool:
    """No path is also a folder of another (a tree cannot hold both)."""
    return not any(other.startswith(path + "/") for path in files for other in files)


manifests = st.dictionaries(safe_paths, entries, max_size=12).filter(no_file_folder_clash)


# ----- the Merkle root -------------------------------------------------------------------------


def test_the_empty_manifest_has_the_empty_root() -> None:
    assert Manifest.of({}).root == EMPTY_ROOT
    assert merkle_root({}) == EMPTY_ROOT


@settings(max_examples=100, deadline=None)
@given(manifests, st.randoms(use_true_random=False))
def test_the_root_does_not_depend_on_the_order_files_are_listed(
    files: dict[str, FileEntry], rng: random.Random
) -> None:
    shuffled = list(files.items())
    rng.shuffle(shuffled)
    assert Manifest.of(dict(shuffled)).root == Manifest.of(files).root
    assert merkle_root(dict(shuffled)) == merkle_root(files)
    assert Manifest.of(files).root == Manifest.of(files).root


@settings(max_examples=100, deadline=None)
@given(manifests.filter(bool), st.data())
def test_changing_one_file_hash_changes_the_root(
    files: dict[str, FileEntry], data: st.DataObject
) -> None:
    path = data.draw(st.sampled_from(sorted(files)))
    old = files[path]
    new_digest = data.draw(digests.filter(lambda d: d != old.sha256))
    changed = {**files, path: FileEntry(new_digest, old.size)}
    assert Manifest.of(changed).root != Manifest.of(files).root


@settings(max_examples=100, deadline=None)
@given(manifests.filter(bool), st.data())
def test_removing_or_adding_a_file_changes_the_root(
    files: dict[str, FileEntry], data: st.DataObject
) -> None:
    path = data.draw(st.sampled_from(sorted(files)))
    fewer = {p: e for p, e in files.items() if p != path}
    assert Manifest.of(fewer).root != Manifest.of(files).root
    # adding it back is adding a file to `fewer`
    assert Manifest.of({**fewer, path: files[path]}).root == Manifest.of(files).root


def test_the_same_content_under_another_name_changes_the_root() -> None:
    a = Manifest.of({"caxton.toml": entry(b"x"), "agents/a.toml": entry(b"a")})
    b = Manifest.of({"caxton.toml": entry(b"x"), "agents/b.toml": entry(b"a")})
    c = Manifest.of({"caxton.toml": entry(b"x"), "prompts/a.toml": entry(b"a")})
    assert len({a.root, b.root, c.root}) == 3


def test_manifest_files_are_kept_in_sorted_order() -> None:
    m = Manifest.of({"prompts/p": entry(b"p"), "caxton.toml": entry(b"c"), "agents/a": entry(b"")})
    assert list(m.files) == ["agents/a", "caxton.toml", "prompts/p"]
    assert m.size == 2


# ----- JSON ------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(manifests)
def test_a_manifest_round_trips_through_json(files: dict[str, FileEntry]) -> None:
    m = Manifest.of(files)
    back = Manifest.from_json(m.to_json())
    assert back.root == m.root
    assert dict(back.files) == dict(m.files)
    assert list(back.files) == list(m.files)


@pytest.mark.parametrize(
    "data",
    [
        [],
        "caxton.toml",
        {"caxton.toml": "abc"},
        {"caxton.toml": {"sha256": "A" * 64, "size": 1}},
        {"caxton.toml": {"sha256": "a" * 63, "size": 1}},
        {"caxton.toml": {"sha256": "a" * 64, "size": -1}},
        {"caxton.toml": {"sha256": "a" * 64, "size": True}},
        {"caxton.toml": {"sha256": "a" * 64, "size": "1"}},
        {"caxton.toml": {"sha256": "a" * 64}},
        {"../etc/passwd": {"sha256": "a" * 64, "size": 1}},
    ],
)
def test_a_malformed_manifest_is_refused(data: object) -> None:
    with pytest.raises(ManifestError):
        Manifest.from_json(data)


def test_a_path_that_is_also_a_folder_is_refused_as_a_manifest_error() -> None:
    digest = hashlib.sha256(b"").hexdigest()
    with pytest.raises(ManifestError):
        Manifest.from_json(
            {"agents/a": {"sha256": digest, "size": 0}, "agents/a/b": {"sha256": digest, "size": 0}}
        )


# ----- diff ------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(manifests)
def test_a_manifest_differs_from_itself_in_nothing(files: dict[str, FileEntry]) -> None:
    m = Manifest.of(files)
    changes = m.diff(m)
    assert changes.empty
    assert changes.paths == ()


@settings(max_examples=100, deadline=None)
@given(manifests, manifests)
def test_diff_backwards_swaps_added_and_deleted(
    a_files: dict[str, FileEntry], b_files: dict[str, FileEntry]
) -> None:
    a, b = Manifest.of(a_files), Manifest.of(b_files)
    forward, backward = a.diff(b), b.diff(a)
    assert set(forward.added) == set(backward.deleted)
    assert set(forward.deleted) == set(backward.added)
    assert set(forward.modified) == set(backward.modified)
    assert forward.empty == (a.root == b.root)


@settings(max_examples=100, deadline=None)
@given(manifests, manifests)
def test_applying_a_diff_to_the_old_paths_gives_the_new_paths(
    a_files: dict[str, FileEntry], b_files: dict[str, FileEntry]
) -> None:
    a, b = Manifest.of(a_files), Manifest.of(b_files)
    changes = a.diff(b)
    assert (set(a.files) - set(changes.deleted)) | set(changes.added) == set(b.files)
    for path in changes.modified:
        assert a.files[path].sha256 != b.files[path].sha256
    unchanged = set(a.files) & set(b.files) - set(changes.modified)
    assert all(a.files[p].sha256 == b.files[p].sha256 for p in unchanged)


def test_diff_names_added_modified_and_deleted_files() -> None:
    old = Manifest.of({"caxton.toml": entry(b"1"), "agents/a.toml": entry(b"a")})
    new = Manifest.of({"caxton.toml": entry(b"2"), "prompts/p.md": entry(b"p")})
    changes = old.diff(new)
    assert changes.added == ("prompts/p.md",)
    assert changes.modified == ("caxton.toml",)
    assert changes.deleted == ("agents/a.toml",)
    assert changes.paths == ("agents/a.toml", "caxton.toml", "prompts/p.md")
    assert changes.to_json() == {
        "added": ["prompts/p.md"],
        "modified": ["caxton.toml"],
        "deleted": ["agents/a.toml"],
    }


# ----- check_path ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(safe_paths)
def test_safe_paths_are_accepted(path: str) -> None:
    assert check_path(path) == path
    assert deployable(path)


@pytest.mark.parametrize(
    "path",
    [
        "caxton.toml",
        "agents/helper.toml",
        "agents/team/helper.toml",
        "prompts/system.md",
        "prompts/deep/er/x.txt",
        "tools/search/tool.toml",
        "tools/search/search.wasm",
        "tools/search/target/wasm32-wasi/release/search.wasm",
        "agents/café.toml",
        "agents/with space.toml",
    ],
)
def test_paths_that_deploy_are_accepted(path: str) -> None:
    assert check_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        "",
        "..",
        "agents/../caxton.toml",
        "agents/./a.toml",
        "agents/..",
        "/etc/x",
        "/agents/a.toml",
        "agents\\a.toml",
        "C:/agents/a.toml",
        "agents/a\x00.toml",
        "agents/a\n.toml",
        "agents/a\x7f.toml",
        "agents//x",
        "agents/x/",
        "agents/.x",
        ".caxton/memory.db",
        ".git/config",
        "agents/.hidden/a.toml",
        "agents/cafe\u0301.toml",
        "README.md",
        "caxton.toml/x",
        "agents",
        "secrets/key",
        "tools/x/src/main.c",
        "tools/x/README.md",
        "tools/x/tool.json",
        "tools/x/sub/tool.toml",
        "tools/tool.toml",
        "tools/x.wasm",
        "agents/" + "a" * MAX_PATH_CHARS,
    ],
)
def test_unsafe_or_undeployed_paths_are_refused(path: str) -> None:
    with pytest.raises(ManifestError):
        check_path(path)


@pytest.mark.parametrize("value", [None, 1, b"caxton.toml", ["caxton.toml"]])
def test_a_path_that_is_not_a_string_is_refused(value: object) -> None:
    with pytest.raises(ManifestError):
        check_path(value)


@settings(max_examples=200, deadline=None)
@given(safe_paths, st.data())
def test_any_path_holding_a_control_character_is_refused(path: str, data: st.DataObject) -> None:
    control = data.draw(st.sampled_from([chr(c) for c in (*range(32), 127)]))
    at = data.draw(st.integers(0, len(path)))
    with pytest.raises(ManifestError):
        check_path(path[:at] + control + path[at:])


@settings(max_examples=200, deadline=None)
@given(safe_paths, st.data())
def test_any_path_with_a_dot_part_or_hidden_part_is_refused(path: str, data: st.DataObject) -> None:
    parts = path.split("/")
    at = data.draw(st.integers(0, len(parts) - 1))
    kind = data.draw(st.sampled_from(["hide", "dot", "dotdot", "empty"]))
    if kind == "hide":
        parts[at] = "." + parts[at]
    else:
        parts.insert(at, {"dot": ".", "dotdot": "..", "empty": ""}[kind])
    with pytest.raises(ManifestError):
        check_path("/".join(parts))


@settings(max_examples=100, deadline=None)
@given(safe_paths, st.sampled_from(["/", "\\", "C:/", "//"]))
def test_any_absolute_or_windows_path_is_refused(path: str, prefix: str) -> None:
    with pytest.raises(ManifestError):
        check_path(prefix + path)
    if "/" in path:
        with pytest.raises(ManifestError):
            check_path(path.replace("/", "\\"))


decomposed = st.builds(
    lambda before, base, mark, after: before + base + mark + after,
    ascii_names,
    st.sampled_from("aeiouAEIOUcnyCN"),
    st.sampled_from(["\u0301", "\u0300", "\u0302", "\u0308", "\u0303", "\u0327"]),
    ascii_names,
).filter(lambda s: unicodedata.normalize("NFC", s) != s)


@settings(max_examples=100, deadline=None)
@given(decomposed, st.sampled_from(["agents/{}.toml", "prompts/{}", "prompts/{}/x.md"]))
def test_any_path_not_in_nfc_is_refused(name: str, shape: str) -> None:
    path = shape.format(name)
    with pytest.raises(ManifestError, match="NFC"):
        check_path(path)
    assert check_path(unicodedata.normalize("NFC", path))


@settings(max_examples=50, deadline=None)
@given(st.integers(MAX_PATH_CHARS + 1, MAX_PATH_CHARS + 300), safe_paths)
def test_any_path_over_the_length_limit_is_refused(length: int, tail: str) -> None:
    path = "prompts/" + tail
    path = "prompts/" + "x" * max(1, length - len(path) - 1) + "/" + tail
    assert len(path) > MAX_PATH_CHARS
    with pytest.raises(ManifestError, match="longer"):
        check_path(path)


def test_a_path_at_the_length_limit_is_accepted() -> None:
    path = "prompts/" + "x" * (MAX_PATH_CHARS - len("prompts/"))
    assert len(path) == MAX_PATH_CHARS
    assert check_path(path) == path


# ----- building from a folder ------------------------------------------------------------------


def write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


DEPLOYED = {
    "caxton.toml": b'name = "ws"\n',
    "agents/a.toml": b'name = "a"\n',
    "agents/team/b.toml": b'name = "b"\n',
    "prompts/system.md": b"be brief\n",
    "prompts/deep/nested/x.txt": b"x",
    "tools/t/tool.toml": b'name = "t"\n',
    "tools/t/t.wasm": b"\x00asm\x01\x00\x00\x00",
    "tools/t/target/release/t.wasm": b"\x00asm",
}
NOT_DEPLOYED = {
    "README.md": b"# ws\n",
    "notes.txt": b"n",
    ".env": b"SECRET=1",
    ".git/config": b"[core]\n",
    ".git/objects/ab/cdef": b"blob",
    ".caxton/memory.db": b"db",
    "agents/.draft.toml": b"hidden",
    "agents/.cache/c.toml": b"hidden",
    "prompts/.DS_Store": b"junk",
    "tools/t/src/main.c": b"int main(){}",
    "tools/t/README.md": b"t",
    "tools/t/Cargo.toml": b"[package]",
    "tools/loose.wasm": b"\x00asm",
}


def test_build_carries_exactly_the_deployable_files(tmp_path: Path) -> None:
    write(tmp_path, {**DEPLOYED, **NOT_DEPLOYED})
    assert workspace_files(tmp_path) == sorted(DEPLOYED)
    m = build(tmp_path)
    assert list(m.files) == sorted(DEPLOYED)
    for rel, data in DEPLOYED.items():
        assert m.files[rel] == entry(data)
    assert m.root == Manifest.of({p: entry(d) for p, d in DEPLOYED.items()}).root


def test_build_of_an_empty_folder_is_the_empty_manifest(tmp_path: Path) -> None:
    m = build(tmp_path)
    assert dict(m.files) == {}
    assert m.root == EMPTY_ROOT


def test_caxtonignore_leaves_out_matching_files_and_folders(tmp_path: Path) -> None:
    write(tmp_path, DEPLOYED)
    write(
        tmp_path,
        {
            "agents/draft-one.toml": b"d1",
            "agents/draft-two.toml": b"d2",
            "prompts/scratch/a.md": b"s",
            "prompts/scratch/deeper/b.md": b"s",
            "prompts/keep.md": b"k",
            "tools/t/big.wasm": b"big",
        },
    )
    (tmp_path / ".caxtonignore").write_text(
        "# drafts stay local\nagents/draft-*.toml\nscratch/\ntools/t/big.wasm\n", encoding="utf-8"
    )
    files = workspace_files(tmp_path)
    assert files == sorted([*DEPLOYED, "prompts/keep.md"])
    assert list(build(tmp_path).files) == files


def test_caxtonignore_negation_brings_a_file_back(tmp_path: Path) -> None:
    write(tmp_path, {"caxton.toml": b"", "agents/a.toml": b"a", "agents/b.toml": b"b"})
    (tmp_path / ".caxtonignore").write_text("agents/*.toml\n!agents/b.toml\n", encoding="utf-8")
    assert workspace_files(tmp_path) == ["agents/b.toml", "caxton.toml"]


def test_a_symlinked_agent_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"caxton.toml": b"", "elsewhere/a.toml": b"a"})
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "a.toml").symlink_to(tmp_path / "elsewhere" / "a.toml")
    with pytest.raises(ManifestError) as caught:
        build(tmp_path)
    assert "symlink" in caught.value.message
    assert "agents/a.toml" in caught.value.message


def test_a_symlinked_folder_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"caxton.toml": b"", "elsewhere/a.toml": b"a"})
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "team").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(ManifestError, match="symlink"):
        build(tmp_path)


def test_a_symlinked_top_folder_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"caxton.toml": b"", "elsewhere/a.toml": b"a"})
    (tmp_path / "prompts").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(ManifestError, match="symlink"):
        build(tmp_path)


def test_a_symlink_among_files_that_never_deploy_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, {"caxton.toml": b"", "tools/t/tool.toml": b"t", "tools/t/src/real.c": b""})
    (tmp_path / "tools" / "t" / "src" / "link.c").symlink_to(tmp_path / "tools/t/src/real.c")
    assert workspace_files(tmp_path) == ["caxton.toml", "tools/t/tool.toml"]


def test_a_symlink_listed_in_caxtonignore_is_left_out(tmp_path: Path) -> None:
    write(tmp_path, {"caxton.toml": b"", "elsewhere/a.toml": b"a"})
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "link.toml").symlink_to(tmp_path / "elsewhere" / "a.toml")
    (tmp_path / ".caxtonignore").write_text("agents/link.toml\n", encoding="utf-8")
    assert workspace_files(tmp_path) == ["caxton.toml"]


def test_a_symlinked_workspace_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"elsewhere/caxton.toml": b'name = "ws"\n'})
    (tmp_path / "caxton.toml").symlink_to(tmp_path / "elsewhere" / "caxton.toml")
    with pytest.raises(ManifestError, match="symlink"):
        build(tmp_path)


def test_the_same_files_in_two_folders_give_the_same_root(tmp_path: Path) -> None:
    first, second = tmp_path / "machine-a" / "ws", tmp_path / "machine-b" / "elsewhere"
    write(first, DEPLOYED)
    write(second, dict(reversed(list(DEPLOYED.items()))))  # created in another order
    write(second, {"README.md": b"only here", ".git/HEAD": b"ref"})
    os.utime(second / "caxton.toml", (1, 1))
    a, b = build(first), build(second)
    assert a.root == b.root
    assert a.files == b.files


def test_a_changed_file_in_a_folder_changes_the_root(tmp_path: Path) -> None:
    write(tmp_path, DEPLOYED)
    before = build(tmp_path)
    (tmp_path / "prompts" / "system.md").write_bytes(b"be verbose\n")
    after = build(tmp_path)
    assert after.root != before.root
    assert before.diff(after).modified == ("prompts/system.md",)


def test_nfc_names_are_listed_as_they_are(tmp_path: Path) -> None:
    name = unicodedata.normalize("NFC", "café.toml")
    write(tmp_path, {"caxton.toml": b"", f"agents/{name}": b"a"})
    m = build(tmp_path)
    assert list(m.files) == [f"agents/{name}", "caxton.toml"]


def test_decomposed_names_are_listed_in_nfc(tmp_path: Path) -> None:
    write(
        tmp_path, {"caxton.toml": b"", "agents/" + unicodedata.normalize("NFD", "café.toml"): b"a"}
    )
    assert workspace_files(tmp_path) == [
        "agents/" + unicodedata.normalize("NFC", "café.toml"),
        "caxton.toml",
    ]


def test_a_decomposed_name_on_disk_builds(tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "café.toml")
    write(tmp_path, {"caxton.toml": b"", f"agents/{nfd}": b"a"})
    m = build(tmp_path)
    assert m.files["agents/" + unicodedata.normalize("NFC", "café.toml")] == entry(b"a")
