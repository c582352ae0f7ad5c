"""Bounded JSON parsing: every JSON document the node reads goes through `loads`.

py_ecc raises the interpreter's recursion limit to 100,000 when it is
imported, so the json module's C parser no longer stops deep nesting with a
RecursionError: ~100,000 nested brackets overflow the C stack and the process
dies with a segmentation fault. `loads` therefore measures the nesting depth
of the raw text first (a linear scan at C speed outside string literals) and
refuses anything deeper than `MAX_JSON_DEPTH` before the parser sees it.

It also accepts UTF-8 only: the scan reads the text character by character,
and json.loads would otherwise guess UTF-16/32 from the bytes.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate, count
from operator import sub
from typing import Any

# Deep enough for any JSON-RPC request, genesis file or keystore (they nest
# 5-10 levels); far below what the C stack can take.
MAX_JSON_DEPTH = 64

# Escape sequences go first (left to right, as the parser reads them), so a
# string literal is then just quote, non-quotes, quote: matched in linear time.
# (Matching escapes inside the string pattern instead is quadratic on a quote
# followed by many escaped quotes: each start position rescans to the end.)
# A backslash outside a string is a syntax error the parser stops at, so
# dropping it can only make the scan count brackets the parser never reaches.
_ESCAPE = re.compile(r"\\.", re.DOTALL)
_STRING = re.compile(r'"[^"]*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
# Openers become 2 and closers 0, so that (running sum - position) is the depth.
_TO_STEPS = str.maketrans("[{]}", "\x02\x02\x00\x00")


class JsonTooDeep(ValueError):
    """The document nests arrays/objects deeper than allowed."""

    def __init__(self, depth: int, limit: int) -> None:
        super().__init__(f"JSON nesting depth {depth} exceeds the limit of {limit}")
        self.depth = depth
        self.limit = limit


def nesting_depth(text: str) -> int:
    """The deepest array/object nesting in `text`, brackets inside strings not counted.

    Malformed text is measured as written (an unclosed bracket still counts),
    so the answer is never below what a parser would recurse into.
    """
    if text.count("[") + text.count("{") <= 1:
        return text.count("[") + text.count("{")
    unquoted = _STRING.sub("", _ESCAPE.sub("", text))
    steps = _NOT_BRACKET.sub("", unquoted).translate(_TO_STEPS).encode("latin-1")
    if not steps:
        return 0
    return max(0, max(map(sub, accumulate(steps), count(1))))


def check_depth(text: str, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise `JsonTooDeep` if `text` nests deeper than `limit`."""
    if text.count("[") + text.count("{") <= limit:
        return  # cannot be deeper than its number of openers
    depth = nesting_depth(text)
    if depth > limit:
        raise JsonTooDeep(depth, limit)


def loads(raw: str | bytes, *, max_depth: int = MAX_JSON_DEPTH, **kwargs: Any) -> Any:
    """json.loads with a nesting bound; bytes must be UTF-8.

    Raises ValueError for anything that is not acceptable JSON: `JsonTooDeep`,
    UnicodeDecodeError or json.JSONDecodeError.
    """
    text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
    check_depth(text, max_depth)
    return json.loads(text, **kwargs)


__all__ = ["MAX_JSON_DEPTH", "JsonTooDeep", "check_depth", "loads", "nesting_depth"]
