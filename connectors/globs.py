"""Glob expansion for input files that never steps through a symlink to a folder.

``glob.glob(..., recursive=True)`` follows folder symlinks under ``**``: one ``up -> ..`` link
in a log folder made a glob read the same file 41 times, and two such links never finished.
Here, as with ``find``, a wildcard segment (``*``, ``**``, ``log-?``) never enters a symlinked
folder, while a symlink to a file that the pattern names is still a match; and a file reached
by two names is listed once, by (device, inode). Literal segments (``data/current/*.csv``) are
taken as written, symlink or not: the user named them. Hidden names match only a pattern that
starts with a dot, as with ``glob``.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

_MAGIC = "*?["


def is_glob(text: str) -> bool:
    """True when ``text`` holds a glob character (``*``, ``?`` or ``[``)."""
    return any(ch in text for ch in _MAGIC)


def glob_files(pattern: str) -> list[Path]:
    """The files ``pattern`` matches (``**`` is any number of folders), sorted, each once.

    Matches are regular files, or symlinks to regular files; folders are left out.
    """
    root, parts = _split(pattern)
    matches = sorted({Path(p) for p in _walk(root, parts)})
    return unique_files(p for p in matches if p.is_file())


def unique_files(paths: Iterable[Path]) -> list[Path]:
    """``paths`` in their order, without a second name for the same file (device, inode).

    A path that cannot be stat'ed is kept: the reader then names it in its own error.
    """
    seen: set[tuple[int, int] | str] = set()
    out: list[Path] = []
    for path in paths:
        try:
            stat = path.stat()
            key: tuple[int, int] | str = (stat.st_dev, stat.st_ino)
        except OSError:
            key = str(path)
        if key not in seen:
            seen.add(key)
            out.append(path)
    return out


def _split(pattern: str) -> tuple[str, tuple[str, ...]]:
    """The literal folder before the first wildcard segment, and the segments from there."""
    absolute = pattern.startswith(os.sep)
    parts = [p for p in pattern.split(os.sep) if p]
    first = next((i for i, p in enumerate(parts) if is_glob(p)), len(parts))
    root = os.sep.join(parts[:first])
    if absolute:
        root = os.sep + root
    return root, tuple(parts[first:])


def _walk(base: str, parts: tuple[str, ...]) -> Iterator[str]:
    """Paths under ``base`` matching ``parts``; wildcards never enter symlinked folders."""
    if not parts:
        yield base
        return
    part, rest = parts[0], parts[1:]
    if part == "**":
        yield from _walk(base, rest)  # zero folders
        for entry in _entries(base):
            if _hidden(entry.name, part):
                continue
            if _real_dir(entry):
                yield from _walk(_join(base, entry.name), parts)
            elif not rest:
                yield _join(base, entry.name)
    elif is_glob(part):
        for entry in _entries(base):
            if _hidden(entry.name, part) or not fnmatch.fnmatchcase(entry.name, part):
                continue
            if not rest:
                yield _join(base, entry.name)
            elif _real_dir(entry):
                yield from _walk(_join(base, entry.name), rest)
    else:
        path = _join(base, part)
        if rest:
            if os.path.isdir(path):
                yield from _walk(path, rest)
        elif os.path.lexists(path):
            yield path


def _entries(folder: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder or os.curdir) as it:
            return list(it)
    except OSError:  # unreadable or gone: no matches there, as with glob
        return []


def _real_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _hidden(name: str, part: str) -> bool:
    return name.startswith(".") and not part.startswith(".")


def _join(base: str, name: str) -> str:
    return os.path.join(base, name) if base else name
