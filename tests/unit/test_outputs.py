"""The collector of /work/out/ (sandbox/outputs.py) on a directory this user owns, as the jail user
owns its work dir: what is kept, what is refused, and the caps checked before reading."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sandbox import outputs, safefs
from sandbox.outputs import OutputCaps, collect, prepare, safe_name

CAPS = OutputCaps(files=10, total_bytes=1 << 20, owner="the free tier")


@pytest.fixture
def work(tmp_path: Path) -> Path:
    prepare(tmp_path)
    return tmp_path


def names(found: outputs.Outputs) -> list[str]:
    return [f.name for f in found.files]


def test_prepare_makes_an_empty_out_dir_of_the_work_dirs_owner(tmp_path):
    prepare(tmp_path)
    out = tmp_path / "out"
    assert out.is_dir() and not out.is_symlink() and list(out.iterdir()) == []
    assert out.stat().st_uid == tmp_path.stat().st_uid
    prepare(tmp_path)  # a second time (or after a compile stage made it) leaves it as it is
    assert collect(tmp_path, CAPS) == outputs.Outputs(caps=CAPS)


def test_regular_files_and_subdirectories_come_back_byte_exact(work):
    (work / "out" / "data.bin").write_bytes(bytes(range(256)) * 4)
    (work / "out" / "plots").mkdir()
    (work / "out" / "plots" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 10)
    (work / "out" / "empty.txt").write_bytes(b"")
    found = collect(work, CAPS)
    assert names(found) == ["data.bin", "empty.txt", "plots/a.png"]
    assert found.files[0].content == bytes(range(256)) * 4
    assert found.files[2].content.startswith(b"\x89PNG")
    assert found.note() is None and found.total_bytes == 1024 + 18


def test_links_fifos_sockets_and_hard_links_are_skipped(work, tmp_path_factory):
    out = work / "out"
    outside = tmp_path_factory.mktemp("outside") / "secret.txt"
    outside.write_text("secret")
    (out / "passwd").symlink_to("/etc/passwd")
    (out / "outside").symlink_to(outside)
    (out / "dirlink").symlink_to(outside.parent, target_is_directory=True)
    os.mkfifo(out / "fifo")
    (out / "kept.txt").write_text("mine")
    (out / "twice.txt").write_text("linked")
    os.link(out / "twice.txt", out / "twice-again.txt")
    import socket

    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(out / "sock"))
        started = time.monotonic()
        found = collect(work, CAPS)
        assert time.monotonic() - started < 1  # a FIFO never blocks the walk
    finally:
        sock.close()
    assert names(found) == ["kept.txt"]
    assert found.unsafe == 7
    assert "7 entries under /work/out/ were not kept" in (found.note() or "")
    assert all(b"secret" not in f.content and b"root:" not in f.content for f in found.files)


def test_a_huge_sparse_file_is_refused_by_its_size_without_being_read(work):
    with open(work / "out" / "huge.bin", "wb") as fh:
        fh.truncate(10 << 30)  # 10 GiB, no block written
    (work / "out" / "small.txt").write_text("ok")
    started = time.monotonic()
    found = collect(work, CAPS)
    assert time.monotonic() - started < 0.5
    assert names(found) == ["small.txt"] and found.over_size == 1
    assert found.note() == "kept 1 of 2 files: the free tier keeps at most 1 MB of files per run"


def test_the_count_cap_keeps_the_first_files_by_name(work):
    for i in range(14):
        (work / "out" / f"f{i:02}.txt").write_text(str(i))
    found = collect(work, CAPS)
    assert names(found) == [f"f{i:02}.txt" for i in range(10)] and found.over_count == 4
    assert found.note() == "kept 10 of 14 files: the free tier keeps at most 10 files per run"


def test_the_size_cap_is_a_total_checked_before_each_file(work):
    caps = OutputCaps(files=10, total_bytes=1000, owner="the free tier")
    for name, size in (("a", 400), ("b", 700), ("c", 500), ("d", 100)):
        (work / "out" / name).write_bytes(b"x" * size)
    found = collect(work, caps)
    assert names(found) == ["a", "c", "d"] and found.total_bytes == 1000 and found.over_size == 1


def test_directories_deeper_than_the_bound_are_not_walked(work):
    deep = work / "out"
    for level in range(outputs.MAX_DEPTH + 2):
        deep = deep / f"d{level}"
        deep.mkdir()
        (deep / "f.txt").write_text(str(level))
    found = collect(work, CAPS)
    assert len(found.files) == outputs.MAX_DEPTH
    assert "/".join(f"d{i}" for i in range(outputs.MAX_DEPTH)) + "/f.txt" in names(found)
    assert found.unsafe == 1


def test_names_with_control_characters_or_too_long_are_skipped(work):
    (work / "out" / "bad\nname.txt").write_text("x")
    (work / "out" / "bell\x07").write_text("x")
    (work / "out" / ("n" * 200)).mkdir()
    (work / "out" / ("n" * 200) / ("m" * 100)).write_text("x")
    (work / "out" / "ok é.txt").write_text("x")
    found = collect(work, CAPS)
    assert names(found) == ["ok é.txt"] and found.unsafe == 3


def test_out_replaced_by_a_symlink_or_a_file_gives_nothing(tmp_path, tmp_path_factory):
    target = tmp_path_factory.mktemp("elsewhere")
    (target / "secret").write_text("secret")
    (tmp_path / "out").symlink_to(target, target_is_directory=True)
    assert collect(tmp_path, CAPS).files == ()
    (tmp_path / "out").unlink()
    (tmp_path / "out").write_text("a file")
    assert collect(tmp_path, CAPS).files == ()


def test_only_the_jail_users_own_single_link_regular_files_qualify(work):
    path = work / "out" / "mine"
    path.write_text("x")
    st = path.stat()
    assert safefs.own_regular(st, st.st_uid, st.st_dev, single_link=True)
    assert not safefs.own_regular(st, st.st_uid + 1, st.st_dev)  # another user's
    assert not safefs.own_regular(st, st.st_uid, st.st_dev + 1)  # on another file system
    os.link(path, work / "out" / "again")
    assert not safefs.own_regular(path.stat(), st.st_uid, st.st_dev, single_link=True)
    assert not safefs.own_regular((work / "out").stat(), st.st_uid, st.st_dev)  # a directory


@pytest.mark.parametrize("name,ok", [("a.png", True), ("..", False), (".", False), ("", False), ("a\x00b", False),
                                     ("a\u202eb", False), ("a\\b", False), ("\udcff", False), ("日本.txt", True)])
def test_safe_names(name, ok):
    assert safe_name(name) is ok
