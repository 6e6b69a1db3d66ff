"""The user's macro folder overrides and extends the shipped one, and is reloaded on change."""

import os

from csconsole.macros import library
from tests.test_macros_support import write_macro


def make(tmp_path):
    shipped, mine = tmp_path / "shipped", tmp_path / "mine"
    write_macro(shipped, "hello", 'name = "Hello"\nkey = "h"\nreply = "Hello from the shop"\n')
    write_macro(shipped, "bye", 'name = "Bye"\nkey = "b"\nreply = "Bye"\n')
    lib = library.Library([library.Folder(shipped, False), library.Folder(mine, True)])
    return lib, shipped, mine


def touch_later(path):
    """Make sure the next poll sees a new modification time even on a coarse clock."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def test_user_files_override_by_name_and_extend(tmp_path):
    lib, _, mine = make(tmp_path)
    write_macro(mine, "hello", 'name = "Hello (ours)"\nkey = "h"\nreply = "Hello from us"\n')
    write_macro(mine, "extra", 'name = "Extra"\nkey = "b"\nnote = "x"\n')
    assert lib.refresh()
    by_slug = {m.slug: m for m in lib.macros}
    assert set(by_slug) == {"hello", "bye", "extra"}
    assert by_slug["hello"].reply == "Hello from us" and by_slug["hello"].user
    assert by_slug["extra"].key == "b" and by_slug["bye"].key is None  # the user's key wins, quietly
    assert lib.problems == []
    assert lib.find("Hello (ours)") is by_slug["hello"] and lib.find("hello.toml") is by_slug["hello"]


def test_files_are_reloaded_when_they_change(tmp_path):
    lib, shipped, mine = make(tmp_path)
    assert lib.refresh() and not lib.refresh()  # unchanged: nothing reloaded
    path = write_macro(mine, "new", 'name = "New one"\nnote = "v1"\n')
    assert lib.refresh() and lib.find("new").note == "v1"
    path.write_text('name = "New one"\nnote = "v2"\n', encoding="utf-8")
    touch_later(path)
    assert lib.refresh() and lib.find("new").note == "v2"
    path.unlink()
    assert lib.refresh() and lib.find("new") is None


def test_a_broken_user_file_is_listed_and_hides_the_macro_it_overrides(tmp_path):
    lib, _, mine = make(tmp_path)
    write_macro(mine, "hello", 'name = "Hello"\nreply = "{{ requester.frist_name }}"\n')
    lib.refresh()
    assert lib.find("hello") is None  # never the old shipped text the user meant to change
    [problem] = lib.problems
    assert (problem.path.name, problem.line) == ("hello.toml", 2) and "frist_name" in problem.message


def test_two_macros_of_one_origin_on_one_key_is_a_problem(tmp_path):
    lib, _, mine = make(tmp_path)
    write_macro(mine, "a", 'name = "A"\nkey = "x"\nnote = "a"\n')
    write_macro(mine, "b", 'name = "B"\nnote = "b"\nkey = "x"\n')
    lib.refresh()
    [problem] = lib.problems
    assert (problem.path.name, problem.line, problem.column) == ("b.toml", 3, 1)
    assert "already used by a.toml" in problem.message
    assert lib.find("a").key == "x" and lib.find("b").key is None


def test_missing_user_folder_is_fine(tmp_path):
    lib, _, _ = make(tmp_path)
    lib.refresh()
    assert {m.slug for m in lib.macros} == {"hello", "bye"}


def test_shipped_folder_found_from_a_source_checkout():
    path = library.shipped_dir()
    assert path.is_dir() and (path / "wismo-shipped.toml").exists()


def test_the_wheel_puts_the_folder_where_the_library_looks():
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    force_include = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert force_include["macros"] == f"csconsole/{library.SHIPPED_PACKAGE_DIR}"
