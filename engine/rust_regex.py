"""``$regex`` patterns in Chroma's dialect (Rust's ``regex`` crate), run with Python's ``re``.

Chroma validates a pattern with ``regex_syntax`` before it looks at any record, and refuses a bad
one with ``Regex syntax errror: ...`` (sic). The two dialects mostly agree; where they differ
this module translates or refuses:

* a flag group in the middle, ``c(?i)at`` or ``(?-i)`` (Rust: the flags apply to the end of the
  enclosing group; Python 3.11 refuses non-leading global flags) becomes a scoped group,
  ``c(?i:at)``; flags Python lacks (``U`` swap-greed, ``R`` CRLF) are refused;
* ``(?<name>...)`` becomes ``(?P<name>...)``; ``\\z`` (end of text) becomes ``\\Z``;
* what Rust does not support — look-around, backreferences, ``\\Z`` — is refused, as Chroma
  refuses it, instead of being run by Python's more permissive engine.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sedimentdb.engine.storage_errors import InvalidArgumentError

_PY_FLAGS = set("imsx")
_IGNORED_FLAGS = set("u")  # Unicode mode: always on for Python str patterns
_FLAG_DIRECTIVE = re.compile(r"\(\?([A-Za-z-]*)\)")
_FLAG_GROUP = re.compile(r"\(\?([A-Za-z-]*):")


class RegexSyntaxError(InvalidArgumentError, ValueError):
    """A pattern Chroma's regex dialect refuses (a ValueError too, as filter errors are in the engine)."""


def _error(pattern: str, what: str) -> RegexSyntaxError:
    return RegexSyntaxError(f"Regex syntax errror: regex parse error:\n    {pattern}\nerror: {what}")


def _flags(pattern: str, spec: str) -> str:
    """Rust's ``on-off`` flag letters as Python's, or a syntax error."""
    on, _, off = spec.partition("-")
    if not spec or spec.count("-") > 1 or (spec.endswith("-") and not off and "-" in spec):
        raise _error(pattern, "expected flag but got end of flags" if spec else "empty flag group")
    for letter in on + off:
        if letter not in _PY_FLAGS | _IGNORED_FLAGS:
            raise _error(pattern, f"unrecognized or unsupported flag '{letter}'")
    on = "".join(c for c in on if c in _PY_FLAGS)
    off = "".join(c for c in off if c in _PY_FLAGS)
    return on + (f"-{off}" if off else "")


def _class_end(pattern: str, start: int) -> int:
    """The index just past the character class opening at ``start``."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1  # a leading ']' is a literal
    depth = 1
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise _error(pattern, "unclosed character class")


def translate(pattern: str) -> str:
    """The Python ``re`` pattern equivalent to a Rust ``regex`` pattern; InvalidArgumentError if Rust refuses it."""
    out: list[str] = []
    pending = [0]  # per open group: scoped-flag groups to close with it
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise _error(pattern, "incomplete escape sequence, reached end of pattern prematurely")
            nxt = pattern[i + 1]
            if nxt.isdigit():
                raise _error(pattern, "backreferences are not supported")
            if nxt == "Z":
                raise _error(pattern, "unrecognized escape sequence")
            out.append("\\Z" if nxt == "z" else pattern[i:i + 2])
            i += 2
        elif c == "[":
            end = _class_end(pattern, i)
            out.append(pattern[i:end])
            i = end
        elif c == "(" and pattern.startswith("(?", i):
            rest = pattern[i:]
            if rest.startswith(("(?=", "(?!", "(?<=", "(?<!")):
                raise _error(pattern, "look-around, including look-ahead and look-behind, is not supported")
            directive = _FLAG_DIRECTIVE.match(rest)
            group = _FLAG_GROUP.match(rest)
            if directive:
                out.append(f"(?{_flags(pattern, directive.group(1))}:")
                pending[-1] += 1
                i += directive.end()
            elif group:
                out.append(f"(?{_flags(pattern, group.group(1))}:")
                pending.append(0)
                i += group.end()
            elif rest.startswith(("(?P<", "(?<")):
                out.append("(?P<")
                pending.append(0)
                i += 4 if rest.startswith("(?P<") else 3
            else:
                raise _error(pattern, "unrecognized flag")
        elif c == "(":
            out.append("(")
            pending.append(0)
            i += 1
        elif c == ")":
            if len(pending) == 1:
                raise _error(pattern, "unopened group")
            out.append(")" * pending.pop() + ")")
            i += 1
        else:
            out.append(c)
            i += 1
    if len(pending) > 1:
        raise _error(pattern, "unclosed group")
    out.append(")" * pending[0])
    return "".join(out)


@lru_cache(maxsize=256)
def compile_rust_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` (Rust syntax) compiled for Python; InvalidArgumentError in Chroma's words if invalid."""
    translated = translate(pattern)
    try:
        return re.compile(translated)
    except re.error as exc:
        raise _error(pattern, str(exc)) from None
