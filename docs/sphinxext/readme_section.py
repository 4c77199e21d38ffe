"""Sphinx directive that renders one section of README.md in a page.

``.. readme-section:: Performance`` inserts the body of the README section
whose heading is ``## Performance`` (up to the next heading of the same or a
higher level), converted from the small Markdown subset the README uses:
paragraphs, ``-`` bullet lists, pipe tables, fenced code blocks, inline code,
bold text and links. The README stays the one place where these facts (the
install commands, the measured timings) are written down, and the page is
rebuilt whenever it changes.
"""

import re
from pathlib import Path
from typing import ClassVar

from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList
from sphinx.errors import ExtensionError

README = Path(__file__).resolve().parents[2] / "README.md"

_CODE = re.compile(r"`([^`]+)`")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^(#+)\s+(.*?)\s*$")


def _inline(text):
    """Convert inline Markdown (code, links) of one line or cell to reST."""
    text = _LINK.sub(lambda m: f"`{m.group(1)} <{m.group(2)}>`__", text)
    pieces = []
    last = 0
    for match in _CODE.finditer(text):
        before = text[last : match.start()]
        pieces.append(before)
        # Inline literals must be delimited by whitespace or punctuation.
        if before and before[-1].isalnum():
            pieces.append("\\ ")
        pieces.append(f"``{match.group(1)}``")
        after = text[match.end() : match.end() + 1]
        if after and after.isalnum():
            pieces.append("\\ ")
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces)


def _cells(row):
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def _table(rows):
    """Convert a Markdown pipe table (header, rule, body rows) to a list-table."""
    header, body = _cells(rows[0]), [_cells(row) for row in rows[2:]]
    out = [".. list-table::", "   :header-rows: 1", "   :widths: auto", ""]
    for row in [header, *body]:
        for i, cell in enumerate(row):
            out.append(f"   {'*' if i == 0 else ' '} - {_inline(cell)}")
    return [*out, ""]


def section_lines(markdown, title):
    """Return the body of the section ``title`` of ``markdown`` as reST lines.

    Parameters
    ----------
    markdown : str
        The Markdown document.
    title : str
        The section heading, without the leading ``#`` characters.

    Returns
    -------
    lines : list of str
        The section's body in reStructuredText.

    Raises
    ------
    ValueError
        If no heading of ``markdown`` reads ``title``.
    """
    lines = markdown.splitlines()
    start = level = None
    for i, line in enumerate(lines):
        match = _HEADING.match(line)
        if match and match.group(2) == title:
            start, level = i + 1, len(match.group(1))
            break
    if start is None:
        raise ValueError(f"README.md has no section titled {title!r}.")
    end = len(lines)
    for i in range(start, len(lines)):
        match = _HEADING.match(lines[i])
        if match and len(match.group(1)) <= level:
            end = i
            break
    body = lines[start:end]

    out = []
    i = 0
    while i < len(body):
        line = body[i]
        if line.startswith("```"):
            language = line[3:].strip() or "text"
            code = []
            i += 1
            while i < len(body) and not body[i].startswith("```"):
                code.append(body[i])
                i += 1
            out += [f".. code-block:: {language}", ""]
            out += [f"   {c}" if c else "" for c in code]
            out.append("")
        elif line.startswith("|"):
            rows = []
            while i < len(body) and body[i].startswith("|"):
                rows.append(body[i])
                i += 1
            out += _table(rows)
            continue
        elif line.startswith("#"):
            match = _HEADING.match(line)
            out += [f"**{_inline(match.group(2))}**", ""]
        else:
            out.append(_inline(line))
        i += 1
    return [*out, ""]


class ReadmeSection(Directive):
    """Insert one section of README.md, converted to reStructuredText."""

    required_arguments = 1
    final_argument_whitespace = True
    option_spec: ClassVar[dict] = {"path": directives.unchanged}

    def run(self):
        """Parse the converted section in place of the directive."""
        env = self.state.document.settings.env
        path = Path(self.options.get("path", README))
        env.note_dependency(str(path))
        try:
            lines = section_lines(path.read_text(encoding="utf-8"), self.arguments[0])
        except (OSError, ValueError) as error:
            raise ExtensionError(f"readme-section: {error}") from error
        self.state_machine.insert_input(StringList(lines, str(path)), str(path))
        return []


def setup(app):
    """Register the ``readme-section`` directive."""
    app.add_directive("readme-section", ReadmeSection)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
