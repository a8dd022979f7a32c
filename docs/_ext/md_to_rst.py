"""A small Markdown -> reStructuredText converter for benchmarks/README.md.

myst-parser is not a dependency of the docs, so the benchmark README (plain
GitHub Markdown: headings, paragraphs, lists, fenced code, pipe tables, inline
code, links and emphasis) is converted to reST when the docs are built. Text
that reST would read as markup (``|``, trailing ``_``, stray ``*`` or
backquotes, a paragraph that starts like a numbered item) is escaped, so the
result never adds a Sphinx warning. Inline markup may span the lines of a
paragraph, and links to a heading of the same text (``[text](#anchor)``)
become links to that section.
"""

import re

__all__ = ["markdown_to_rst"]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
_LIST_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+")
_HRULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
# the start of a line that reST reads as an enumerated list item: "30. ",
# "a) ", "(iv) ", "#. "
_ENUMERATOR = re.compile(r"^(\(?)(\d+|[A-Za-z]|[ivxlcdmIVXLCDM]+|#)([.)])(\s)")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_INLINE = re.compile(
    r"(?P<code>`+)(?P<code_text>(?s:.+?))(?P=code)"
    r"|!\[(?P<img_alt>[^\]]*)\]\((?P<img_url>[^)]*)\)"
    r"|\[(?P<link_text>[^\]]+)\]\((?P<link_url>[^)\s]+)(?:\s+\"[^\"]*\")?\)"
    r"|\*\*(?P<bold>[^*]+?)\*\*"
    r"|__(?P<bold2>[^_]+?)__"
    r"|(?<![\w*])\*(?P<em>[^*\s][^*]*?)\*(?![\w*])"
    r"|(?<!\w)_(?P<em2>[^_\s][^_]*?)_(?!\w)"
    r"|<(?P<autolink>https?://[^>\s]+)>"
)
# characters that start or end reST inline markup, or reference targets
_SPECIAL = re.compile(r"([\\`*|_<>\[\]])")


def _escape(text):
    """Escape every character of plain text that reST could read as markup."""
    return _SPECIAL.sub(r"\\\1", text)


def _literal(text):
    """Inline literal for ``text`` (reST literals cannot hold backquote pairs)."""
    text = text.strip()
    if not text:
        return ""
    if "``" in text or text.startswith("`") or text.endswith("`"):
        return _escape(text)
    return f"``{text}``"


def _inline(text, labels=None):
    """Convert the inline Markdown of a paragraph or table cell to reST.

    ``labels`` maps the anchors of headings (``[text](#anchor)``) to the reST
    labels written before those headings.
    """
    labels = labels or {}
    out, pos = [], 0
    for match in _INLINE.finditer(text):
        out.append(_escape(text[pos : match.start()]))
        pos = match.end()
        groups = match.groupdict()
        if groups["code"]:
            piece = _literal(groups["code_text"])
        elif groups["img_url"] is not None:
            piece = _escape(groups["img_alt"] or "")
        elif groups["link_text"] is not None:
            label, url = groups["link_text"], groups["link_url"]
            plain = re.sub(r"[`*]", "", label).replace("<", "(").replace(">", ")")
            if re.match(r"https?://", url):
                piece = f"`{plain} <{url}>`__"
            elif url.startswith("#"):  # a heading of the same text, else no link
                target = labels.get(url[1:])
                piece = f"`{plain} <{target}_>`_" if target else _escape(plain)
            else:  # a relative link to a file of the repository
                piece = _literal(re.sub(r"`", "", label))
        elif groups["bold"] or groups["bold2"]:
            piece = f"**{_escape(groups['bold'] or groups['bold2'])}**"
        elif groups["em"] or groups["em2"]:
            piece = f"*{_escape(groups['em'] or groups['em2'])}*"
        else:
            url = groups["autolink"]
            piece = f"`{url} <{url}>`__"
        # inline markup must be followed by whitespace or punctuation
        after = text[pos : pos + 1]
        if piece.endswith(("`_", "``", "**", "*")) and after and after.isalnum():
            piece += "\\ "
        before = out[-1][-1:] if out and out[-1] else ""
        if piece.startswith(("`", "*")) and before and before.isalnum():
            piece = "\\ " + piece
        out.append(piece)
    out.append(_escape(text[pos:]))
    return "".join(out)


def _split_row(line):
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    cells, cell, in_code = [], [], False
    for i, char in enumerate(line):
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code and (i == 0 or line[i - 1] != "\\"):
            cells.append("".join(cell).strip())
            cell = []
        else:
            cell.append(char)
    cells.append("".join(cell).strip())
    return [c.replace("\\|", "|") for c in cells]


def _table(lines, labels=None):
    header = _split_row(lines[0])
    rows = [_split_row(line) for line in lines[2:]]
    width = len(header)
    out = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        row = (row + [""] * width)[:width]
        for j, cell in enumerate(row):
            text = _inline(cell, labels)
            out.append((("   * - " if j == 0 else "     - ") + text).rstrip())
    return [*out, ""]


def _slug(title):
    """GitHub's anchor of a heading: ``Speed: `x.py``` gives ``speed-xpy``."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def _is_table(lines, i):
    return (
        "|" in lines[i]
        and i + 1 < len(lines)
        and bool(_TABLE_RULE.match(lines[i + 1]))
        and "-" in lines[i + 1]
    )


def _list_item(line, in_list):
    """The list-item match of ``line``, or None.

    As in CommonMark, an ordered list that does not start at 1 cannot
    interrupt a paragraph: outside a list, ``30. more text`` continues it.
    """
    item = _LIST_ITEM.match(line)
    if item is None:
        return None
    number = item.group(2)[:-1]
    if number.isdigit() and int(number) != 1 and not in_list:
        return None
    return item


def _starts_block(lines, i, in_list):
    """Whether ``lines[i]`` ends the paragraph before it."""
    line = lines[i]
    return bool(
        not line.strip()
        or _FENCE.match(line)
        or _HEADING.match(line)
        or _HRULE.match(line)
        or line.lstrip().startswith(">")
        or _list_item(line, in_list)
        or _is_table(lines, i)
    )


def markdown_to_rst(markdown, heading_chars="-~^\"'", label_prefix="md-"):
    """Return reST for ``markdown``.

    Parameters
    ----------
    markdown : str
        GitHub-flavoured Markdown text.
    heading_chars : str, default="-~^\"'"
        Underline characters for the Markdown heading levels in the order
        they first appear, so the result can be included below a page title.
    label_prefix : str, default="md-"
        Prefix of the reST labels written before the headings that a link of
        the text points to (``[text](#anchor)``). Sphinx labels are global:
        give each converted file its own prefix.

    Returns
    -------
    rst : str
        The reStructuredText.
    """
    lines = markdown.replace("\t", "    ").splitlines()
    anchors = set(re.findall(r"\]\(#([^)\s]+)\)", markdown))
    labels = {}
    for match in filter(None, map(_HEADING.match, lines)):
        slug = _slug(match.group(2))
        if slug in anchors:
            labels[slug] = f"{label_prefix}{slug}"
    out, levels, i = [], [], 0
    # the indentation of the text of the list item being written (or None),
    # and the open lists: (Markdown indent, reST prefix, item text indent)
    state = {"item_indent": None, "stack": []}

    def blank():
        if out and out[-1] != "":
            out.append("")

    def end_block():
        state["item_indent"], state["stack"] = None, []
        blank()

    def paragraph(first, start):
        """Inline reST of ``first`` and the lines that continue it, and the end.

        Emphasis, links and code may span the lines of a paragraph, so the
        paragraph is converted as a whole.
        """
        end, in_list = start + 1, bool(state["stack"])
        while end < len(lines) and not _starts_block(lines, end, in_list):
            end += 1
        text = "\n".join([first.strip()] + [x.strip() for x in lines[start + 1 : end]])
        return _inline(text, labels).split("\n"), end

    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            indent, marker, lang = fence.groups()
            body, i = [], i + 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                body.append(lines[i][len(indent) :] if lines[i].strip() else "")
                i += 1
            i += 1
            end_block()
            language = {"sh": "bash", "shell": "bash", "console": "bash", "": "text"}
            out += [f".. code-block:: {language.get(lang, lang)}", ""]
            out += [f"   {b}".rstrip() for b in body] or ["   "]
            out.append("")
            continue
        heading = _HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            if level not in levels:
                levels.append(level)
                levels.sort()
            title = _inline(heading.group(2), labels)
            char = heading_chars[min(levels.index(level), len(heading_chars) - 1)]
            end_block()
            label = labels.get(_slug(heading.group(2)))
            if label:
                out += [f".. _{label}:", ""]
            out += [title, char * max(len(title), 4), ""]
            i += 1
            continue
        if _is_table(lines, i):
            table = [line, lines[i + 1]]
            i += 2
            while i < len(lines) and lines[i].strip() and "|" in lines[i]:
                table.append(lines[i])
                i += 1
            end_block()
            out += _table(table, labels)
            continue
        if not line.strip():
            blank()
            i += 1
            continue
        if _HRULE.match(line):
            end_block()
            i += 1
            continue
        if line.lstrip().startswith(">"):
            in_list = bool(state["stack"])
            end_block()
            if in_list:  # an empty comment ends the list before the quote
                out += ["..", ""]
            out.append("   " + _inline(line.lstrip()[1:].strip(), labels))
            i += 1
            continue
        item = _LIST_ITEM.match(line)  # any number may start a list here
        if item:
            md_indent, marker = len(item.group(1)), item.group(2)
            stack, popped = state["stack"], False
            while stack and md_indent < stack[-1][0]:
                stack.pop()
                popped = True
            if stack and md_indent == stack[-1][0]:  # the next item of a list
                prefix = stack.pop()[1]
                bullet = "-" if marker in "-*+" else "#."
                if popped:
                    blank()
            else:  # a new list, or a list nested in the current item
                prefix = " " * (stack[-1][2] if stack else 0)
                bullet = "-" if marker in "-*+" else "#."
                if bullet == "#." and int(marker[:-1]) != 1:
                    bullet = f"{int(marker[:-1])}."  # reST's "#." counts from 1
                blank()
            stack.append((md_indent, prefix, len(prefix) + len(bullet) + 1))
            body, i = paragraph(line[item.end() :], i)
            state["item_indent"] = stack[-1][2]
            out.append(f"{prefix}{bullet} {body[0]}")
            out += [" " * state["item_indent"] + part for part in body[1:]]
            continue
        continues_item = state["item_indent"] is not None and (
            out[-1] != "" or line.startswith("  ")
        )
        body, i = paragraph(line, i)
        if continues_item:  # lazily, or indented after a blank line
            out += [" " * state["item_indent"] + part for part in body]
        else:
            state["item_indent"], state["stack"] = None, []
            if out and out[-1] != "" and out[-1].startswith(" "):
                blank()
            body[0] = _ENUMERATOR.sub(r"\1\2\\\3\4", body[0], count=1)
            out += body
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"
