"""Where each key of a TOML text starts: the line numbers ``tomllib`` does not report.

``tomllib`` gives values, never positions, yet a refusal of a configuration file is only useful
when it names the line. :class:`KeyLines` is a small, forgiving scanner over the raw text that maps
every key path (``("targets", 1, "minutes")``) to its 1-based line; :func:`dotted` writes such a
path the way a person would look for it (``targets[1].minutes``).
"""

from __future__ import annotations

import bisect
import contextlib
import json
import re
import tomllib

KeyPath = tuple[str | int, ...]
"""A key path: table keys (``str``) and array indexes (``int``), outermost first."""

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def dotted(path: KeyPath) -> str:
    """``("targets", 1, "minutes")`` as ``targets[1].minutes``; odd keys are quoted as in TOML."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        name = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
        out += f".{name}" if out else name
    return out


class KeyLines:
    """The 1-based line of every key path of a TOML text, found by a forgiving scan.

    It follows table headers (``[a.b]``; ``[[targets]]`` with a running index), dotted and
    quoted keys, comments, strings (multi-line too), arrays (elements get an index in the path)
    and inline tables. It never raises: on text it cannot follow it simply knows fewer keys, and
    ``line`` falls back to the nearest enclosing key or table header.
    """

    _BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")

    def __init__(self, text: str) -> None:
        self._s = text
        self._i = 0
        self._newlines = [i for i, c in enumerate(text) if c == "\n"]
        self._lines: dict[KeyPath, int] = {}
        self._aot: dict[KeyPath, int] = {}  # arrays of tables seen so far: path -> count
        # A best-effort scan must never turn one refusal into a crash.
        with contextlib.suppress(Exception):
            self._document()

    def line(self, path: KeyPath) -> int | None:
        """The line where ``path`` starts, else where its nearest located parent starts."""
        for n in range(len(path), 0, -1):
            found = self._lines.get(path[:n])
            if found is not None:
                return found
        return None

    # -- scanning ----------------------------------------------------------------------------

    def _line_at(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1

    def _record(self, path: KeyPath, pos: int) -> None:
        line = self._line_at(pos)
        for n in range(1, len(path) + 1):
            self._lines.setdefault(path[:n], line)

    def _peek(self, k: int = 0) -> str:
        j = self._i + k
        return self._s[j] if j < len(self._s) else ""

    def _skip_blank(self, *, newlines: bool) -> None:
        """Skip spaces, tabs, comments and (when allowed) line breaks."""
        s = self._s
        while self._i < len(s):
            c = s[self._i]
            if c in " \t" or (newlines and c in "\r\n"):
                self._i += 1
            elif c == "#":
                end = s.find("\n", self._i)
                self._i = len(s) if end < 0 else end
            else:
                return

    def _document(self) -> None:
        table: KeyPath = ()
        s = self._s
        while True:
            self._skip_blank(newlines=True)
            if self._i >= len(s):
                return
            start = self._i
            if s.startswith("[[", start):
                self._i += 2
                table = self._header(self._key(), array=True)
                self._record(table, start)
            elif s[start] == "[":
                self._i += 1
                table = self._header(self._key(), array=False)
                self._record(table, start)
            else:
                keys = self._key()
                self._skip_blank(newlines=False)
                if keys and self._peek() == "=":
                    self._i += 1
                    path = table + keys
                    self._record(path, start)
                    self._value(path)
            # Whatever is left on this line (a comment, or text the scan could not follow).
            end = s.find("\n", self._i)
            self._i = len(s) if end < 0 else end + 1
            if self._i <= start:
                self._i = start + 1

    def _header(self, keys: KeyPath, *, array: bool) -> KeyPath:
        resolved: KeyPath = ()
        for n, key in enumerate(keys):
            resolved = (*resolved, key)
            if array and n == len(keys) - 1:
                count = self._aot.get(resolved, 0)
                self._aot[resolved] = count + 1
                resolved = (*resolved, count)
            elif resolved in self._aot:
                resolved = (*resolved, self._aot[resolved] - 1)
        return resolved

    def _key(self) -> tuple[str, ...]:
        """A possibly dotted, possibly quoted key; stops before ``=`` or ``]``."""
        parts: list[str] = []
        s = self._s
        while True:
            self._skip_blank(newlines=False)
            c = self._peek()
            if c in "\"'":
                start = self._i
                self._string()
                parts.append(_unquote(s[start : self._i]))
            else:
                start = self._i
                while self._i < len(s) and s[self._i] in self._BARE:
                    self._i += 1
                if self._i == start:
                    return tuple(parts)
                parts.append(s[start : self._i])
            self._skip_blank(newlines=False)
            if self._peek() != ".":
                return tuple(parts)
            self._i += 1

    def _string(self) -> None:
        """Skip one string of any of the four kinds, from its opening quote."""
        s = self._s
        quote = s[self._i]
        escapes = quote == '"'
        if s.startswith(quote * 3, self._i):
            self._i += 3
            while self._i < len(s):
                if escapes and s[self._i] == "\\":
                    self._i += 2
                elif s.startswith(quote * 3, self._i):
                    self._i += 3
                    extra = 0  # up to two quotes just before the closing ones are content
                    while extra < 2 and self._peek() == quote:
                        self._i += 1
                        extra += 1
                    return
                else:
                    self._i += 1
            return
        self._i += 1
        while self._i < len(s) and s[self._i] != "\n":
            c = s[self._i]
            if escapes and c == "\\":
                self._i += 2
            elif c == quote:
                self._i += 1
                return
            else:
                self._i += 1

    def _value(self, path: KeyPath) -> None:
        s = self._s
        self._skip_blank(newlines=False)
        c = self._peek()
        if c in "\"'":
            self._string()
        elif c == "[":
            self._i += 1
            index = 0
            while True:
                self._skip_blank(newlines=True)
                if self._i >= len(s) or self._peek() == "]":
                    self._i += 1
                    return
                before = self._i
                self._record((*path, index), before)
                self._value((*path, index))
                index += 1
                self._skip_blank(newlines=True)
                # Past the separator; on text the scan cannot follow, make progress anyway.
                if self._peek() == "," or (self._peek() != "]" and self._i == before):
                    self._i += 1
        elif c == "{":
            self._i += 1
            while True:
                self._skip_blank(newlines=True)
                if self._i >= len(s) or self._peek() == "}":
                    self._i += 1
                    return
                before = self._i
                keys = self._key()
                self._skip_blank(newlines=False)
                if keys and self._peek() == "=":
                    self._i += 1
                    self._record(path + keys, before)
                    self._value(path + keys)
                self._skip_blank(newlines=True)
                # Past the separator; on text the scan cannot follow, make progress anyway.
                if self._peek() == "," or (self._peek() != "}" and self._i == before):
                    self._i += 1
        else:
            # A number, boolean or date-time: up to the next separator.
            while self._i < len(s) and s[self._i] not in ",]}#\r\n":
                self._i += 1


def _unquote(raw: str) -> str:
    """The name of a quoted key, escapes decoded by tomllib itself."""
    try:
        value = tomllib.loads(f"k = {raw}")["k"]
    except (tomllib.TOMLDecodeError, KeyError):
        return raw.strip("\"'")
    return value if isinstance(value, str) else raw
