"""A griffe extension: syncapi's docstrings use a few reStructuredText forms; render them as Markdown.

syncapi's docstrings are Google style (``Args:``, ``Raises:``, ``Attributes:``) with
Sphinx cross-reference roles and a few other reST forms. mkdocstrings renders docstrings
as Markdown, where those forms come out as noise (``:class:`` before every name, doctest
prompts read as block quotes). This extension rewrites them when griffe has loaded the
package, before mkdocstrings renders anything:

* ``:class:`Name``` (any role, ``~`` and ``title <target>`` forms included) becomes the
  name in code, linked to its entry in the API reference when it has one (an *optional*
  autoref: an object that the reference does not show stays plain code, with no warning);
* a doctest (``>>>`` lines and their output) becomes a Python code block;
* a paragraph ending in ``::`` ends in ``:`` (the indented block after it is already a
  Markdown code block);
* a simple table (``====  ====`` borders) becomes a Markdown table;
* reST's escaped space (``\\ ``) is dropped.

Nothing in syncapi changes: only the text that griffe hands to mkdocstrings.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(class|func|meth|attr|mod|data|exc|obj):`([^`]+)`")
_TITLED = re.compile(r"^(.*?)\s*<([^<>]+)>$")
_BORDER = re.compile(r"^=+(\s+=+)+\s*$")


class RestDocstrings(griffe.Extension):
    """Rewrite the reST forms of every docstring in the ``syncapi`` package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.name != "syncapi":
            return
        for obj in _walk(pkg):
            if obj.docstring is not None:
                obj.docstring.value = convert(obj.docstring.value, obj)


def _walk(obj: griffe.Object) -> Any:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)  # type: ignore[arg-type]


def convert(text: str, obj: griffe.Object) -> str:
    """Return ``text`` (a docstring of ``obj``) with its reST forms as Markdown."""
    lines = _tables(text.split("\n"))
    lines = _doctests(lines)
    out = "\n".join(lines)
    out = re.sub(r"(\S)\s*::$", r"\1:", out, flags=re.M)  # "as follows::" -> "as follows:"
    out = re.sub(r"^(\s*)::$", r"\1", out, flags=re.M)
    out = _ROLE.sub(lambda m: _reference(m.group(1), m.group(2), obj), out)
    return out.replace("\\ ", "")


def _reference(role: str, text: str, obj: griffe.Object) -> str:
    titled = _TITLED.match(text)
    if titled:
        shown, target = titled.group(1), titled.group(2)
    else:
        target = text.lstrip("~")
        shown = target.rsplit(".", 1)[-1] if text.startswith("~") else target
    path = _resolve(target.lstrip("."), obj)
    code = f"<code>{html.escape(shown)}</code>"
    if path is None:
        return code
    return f'<autoref identifier="{html.escape(path)}" optional>{code}</autoref>'


def _resolve(target: str, obj: griffe.Object) -> str | None:
    """The full path of ``target`` as seen from ``obj`` (its scope, then its parents')."""
    first, _, rest = target.partition(".")
    scope: griffe.Object | None = obj
    while scope is not None:
        try:
            members = scope.all_members if scope.is_class else scope.members
        except Exception:  # an inherited member griffe cannot reach: use the own ones
            members = scope.members
        if first in members:
            member = members[first]
            try:
                base = member.target_path if member.is_alias else member.path
            except Exception:
                return None
            return f"{base}.{rest}" if rest else base
        scope = scope.parent
    if first == "syncapi":
        return target
    return None


def _doctests(lines: list[str]) -> list[str]:
    """Fence each run of unindented ``>>>`` lines (and the output after them)."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i].startswith(">>>"):
            out.append("```python")
            while i < len(lines) and lines[i].strip():
                out.append(lines[i])
                i += 1
            out.append("```")
            continue
        out.append(lines[i])
        i += 1
    return out


def _tables(lines: list[str]) -> list[str]:
    """Turn each reST simple table into a Markdown table."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not _BORDER.match(lines[i]):
            out.append(lines[i])
            i += 1
            continue
        border = lines[i]
        spans = [(m.start(), m.end()) for m in re.finditer(r"=+", border)]
        spans[-1] = (spans[-1][0], 10_000)  # the last column takes the rest of the line
        rows: list[list[str]] = []
        header: list[str] | None = None
        i += 1
        while i < len(lines):
            line = lines[i]
            i += 1
            if _BORDER.match(line):
                if header is None and rows:
                    header, rows = rows[0], []
                    continue
                if header is not None:
                    break
                continue
            cells = [line[a:b].strip() for a, b in spans]
            if rows and (not all(cells)) and any(cells):
                # a continuation line: a cell left blank means the row goes on
                rows[-1] = [
                    f"{old} {new}".strip() for old, new in zip(rows[-1], cells, strict=True)
                ]
            elif any(cells):
                rows.append(cells)
        header = header or [""] * len(spans)
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "---|" * len(spans))
        out.extend("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows)
    return out
