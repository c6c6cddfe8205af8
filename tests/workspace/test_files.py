"""`write_all`: several files appear together or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from caxton.errors import ConflictError, FileAccessError
from caxton.workspace.files import write_all


def test_writes_every_file_and_creates_folders(tmp_path: Path) -> None:
    written = write_all({tmp_path / "a.txt": "A", tmp_path / "sub" / "deep" / "b.txt": "B"})
    assert [p.read_text() for p in written] == ["A", "B"]
    assert not list(tmp_path.rglob(".*caxton-*"))


def test_a_failure_part_way_leaves_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder is needed")
    files = {
        tmp_path / "first.txt": "1",
        tmp_path / "new" / "x.txt": "2",
        tmp_path / "blocker" / "c.txt": "3",
    }
    with pytest.raises(FileAccessError) as caught:
        write_all(files)
    assert "nothing was changed" in str(caught.value.hint)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_force_restores_overwritten_files_when_a_later_write_fails(tmp_path: Path) -> None:
    keep = tmp_path / "keep.txt"
    keep.write_text("original")
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(FileAccessError):
        write_all({keep: "new", tmp_path / "blocker" / "c.txt": "3"}, force=True)
    assert keep.read_text() == "original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "keep.txt"]


def test_existing_files_are_all_named(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("")
    (tmp_path / "b").write_text("")
    with pytest.raises(ConflictError) as caught:
        write_all({tmp_path / "a": "", tmp_path / "b": "", tmp_path / "c": ""})
    assert "a`" in caught.value.message and "b`" in caught.value.message
    assert not (tmp_path / "c").exists()


def test_a_failure_while_renaming_puts_the_old_files_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("old first")
    real_replace = Path.replace

    def flaky(self: Path, target: Path) -> Path:
        if Path(target) == second:
            raise OSError(28, "No space left on device", str(target))
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", flaky)
    with pytest.raises(FileAccessError):
        write_all({first: "new first", second: "new second"}, force=True)
    assert first.read_text() == "old first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["first.txt"]
