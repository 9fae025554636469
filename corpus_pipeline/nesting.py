"""HTML text -> the deepest element nesting its parse will build, never less, in one pass.

Consumes decoded HTML; produces a depth that `extract.check_bounds` compares with
`ingest.max_html_depth` before any extraction, since Resiliparse's main-content pass costs
(elements x depth) in C code that no signal interrupts.

Counting tags is not enough: stray closing tags (`</b>` x N, then `<div>` x N) bring a count
back to zero while the parser ignores them and builds N levels. So this follows the WHATWG
HTML tree-construction rules (the algorithm lexbor, under Resiliparse, implements) as far as
they close elements: an end tag closes only an element that is open and in scope, and not
across a special element; `<p>`, `<li>`, `<dd>`, `<td>`, `<tr>`, `<a>` close their open
predecessor; misnested formatting elements are moved (the adoption agency) and re-opened
(reconstruction); `<td>` in a bare `<table>` adds the implied `<tbody><tr>`; void and
self-closing foreign elements never nest; script, style, title and textarea hold text only.
Where the rules are simplified, the simplification only keeps elements open longer, so the
depth is an upper bound; on real pages it stays within a few levels of the parsed tree.
"""
from __future__ import annotations

import re


class ExtractCapped(ValueError):
    """The page is too large or too deeply nested to extract in bounded time."""


def _names(text: str) -> frozenset:
    return frozenset(text.split())


VOID = _names("area base basefont bgsound br embed frame hr image img input keygen link meta param source track wbr")
RAW_TEXT = _names("script style xmp iframe noembed noframes textarea title")
SPECIAL = _names(
    "address applet area article aside base basefont bgsound blockquote body br button caption center col colgroup "
    "dd details dir div dl dt embed fieldset figcaption figure footer form frame frameset h1 h2 h3 h4 h5 h6 head "
    "header hgroup hr html iframe img input keygen li link listing main marquee menu meta nav noembed noframes "
    "noscript object ol p param plaintext pre script search section select source style summary table tbody td "
    "template textarea tfoot th thead title tr track ul wbr xmp mi mo mn ms mtext annotation-xml foreignobject desc")
SCOPE = _names("applet caption html table td th marquee object template mi mo mn ms mtext annotation-xml "
               "foreignobject desc title")
BUTTON_SCOPE = SCOPE | {"button"}
LIST_SCOPE = SCOPE | {"ol", "ul"}
TABLE_SCOPE = _names("html table template")
FORMATTING = _names("a b big code em font i nobr s small strike strong tt u")
MARKERS = _names("applet caption marquee object td th template")  # the formatting list stops at these
HEADINGS = _names("h1 h2 h3 h4 h5 h6")
CLOSES_P = HEADINGS | _names("address article aside blockquote center details dialog dir div dl fieldset figcaption "
                             "figure footer header hgroup main menu nav ol p search section summary ul pre listing "
                             "form plaintext hr xmp")
CLOSED_IN_SCOPE = _names("address article aside blockquote button center details dialog dir div dl fieldset "
                         "figcaption figure footer header hgroup listing main menu nav ol pre search section summary "
                         "ul form applet marquee object dd dt")
TABLE_CONTEXT = _names("table tbody thead tfoot tr td th caption html template")
TABLE_BODIES = _names("tbody thead tfoot")
# HTML start tags that end an <svg> or <math> island (<font> too, with color, face or size)
BREAKOUT = _names("b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i img li "
                  "listing menu meta nobr ol p pre ruby s small span strong strike sub sup table tt u ul var")
INTEGRATION = _names("foreignobject desc title mi mo mn ms mtext annotation-xml")  # hold HTML again
# Start tags before which the parser re-opens closed formatting elements: all but blocks
# (their text inside does it) and elements of the head, text-only or void ones.
BLOCKS = (CLOSES_P - {"xmp", "hr", "plaintext"}) | {"li", "dd", "dt"}
NOT_RECONSTRUCTING = _names("hr plaintext textarea title style script noembed noframes iframe template base basefont "
                            "bgsound link meta param source track frame")
MERGED = _names("html head body frameset")  # a second one only adds attributes to the first
# Names with rules of their own; any other element is opened and closed, nothing more.
_RULED = (VOID | RAW_TEXT | SPECIAL | SCOPE | FORMATTING | MARKERS | CLOSES_P | CLOSED_IN_SCOPE | TABLE_CONTEXT
          | INTEGRATION | MERGED | BLOCKS | NOT_RECONSTRUCTING | _names("svg math col colgroup option optgroup nobr"
                                                                      " a button select plaintext"))
_PLAIN_VOID = VOID - {"hr"}  # hr closes an open <p> first
ROOT_DEPTH = 2  # <html><body>, implied where absent
# A tag opens at most 3 elements (<td> in a bare <table> implies <tbody><tr>), and each
# formatting tag has at most one copy open, however often re-opened: open elements never
# outnumber 4 x tags, so a page with fewer tags x 4 than the cap cannot nest deeper.
ELEMENTS_PER_TAG = 4
# Walks of the open elements per tag, on average, before the page is refused as too costly to
# measure (real pages need under 5; crafted ones that would need more are refused, in bounded time).
SCAN_STEPS_PER_TAG = 64

# A comment (`<!-->` ends one too), a <!...>, <?...> or </ ...> bogus comment, or a tag with
# its attributes (quoted values may hold ">"); groups: "/" for an end tag, the name, the
# attributes, ">" where the tag is closed.
_TOKEN = re.compile(r"""<!--(?:-?>|.*?(?:--!?>|\Z))|<[!?][^>]*>?|</(?![A-Za-z])[^>]*>?"""
                    r"""|<(/?)([A-Za-z][^\t\n\f\r />]*)([^>=]*(?:=[\t\n\f\r ]*(?:"[^"]*"?|'[^']*'?|[^\t\n\f\r >]*)[^>=]*)*)(>?)""",
                    re.S)
_FONT_BREAKOUT = re.compile(r"(?:^|[\s/])(?:color|face|size)\s*=", re.I)


def _levels(name: str, context: str) -> int:
    """Levels a table part adds inside `context`, the implied <tbody> and <tr> included."""
    if name in ("td", "th"):
        return 1 if context == "tr" else 2 if context in TABLE_BODIES else 3
    if name == "tr":
        return 1 if context in TABLE_BODIES else 2
    return 1


class _Element:
    __slots__ = ("name", "depth", "foreign", "key", "open")

    def __init__(self, name: str, depth: int, foreign: bool = False, key: str = ""):
        self.name, self.depth, self.foreign, self.key, self.open = name, depth, foreign, key, True


def nesting_depth(html: str, limit: int | None = None) -> int:
    """Deepest element nesting the parser builds for `html` (html = 1, body = 2), never less;
    with `limit`, the scan stops at the first depth above it and returns that depth.
    Raises ExtractCapped where the tags cost more than SCAN_STEPS_PER_TAG each to follow."""
    tree = _OpenElements(limit, SCAN_STEPS_PER_TAG * (html.count("<") + 16))
    stack, formatting, ruled, leaves = tree.stack, tree.formatting, _RULED, _PLAIN_VOID
    pos, end = 0, len(html)
    while pos < end and not tree.over_limit:
        token = _TOKEN.search(html, pos)
        if token is None:
            break
        pos = token.end()
        closing, name, attributes, closed = token.groups()
        if name is None:
            continue  # comment or declaration
        name = name.lower()
        top = stack[-1]
        # The common cases first, inline: the current element closed by its own end tag; an
        # element without rules of its own, or a void one, opened where nothing is to re-open.
        if closing:
            if top.name == name and not top.foreign and len(stack) > 1 and (
                    name not in FORMATTING or formatting and formatting[-1] is top):
                if name in FORMATTING:
                    formatting.pop()
                tree._pop()
            else:
                tree.end_tag(name)
            continue
        if not top.foreign and (not formatting or formatting[-1] is None or formatting[-1].open):
            if name not in ruled:
                tree._push(name)
                continue
            if name in leaves:
                tree._leaf(1)
                continue
        raw_text = tree.start_tag(name, attributes, closed == ">" and attributes.endswith("/"))
        if raw_text == "plaintext":
            break  # the rest of the page is text
        if raw_text:  # script, style...: text up to its end tag, which the next search finds
            close = re.compile(f"</{re.escape(raw_text)}[\t\n\f\r />]", re.I).search(html, pos)
            pos = close.start() if close else end
    return tree.deepest


class _OpenElements:
    """The parser's stack of open elements and list of active formatting elements, for depth."""

    def __init__(self, limit: int | None, budget: int):
        self.stack = [_Element("html", ROOT_DEPTH)]  # stands for <html><body>; never closed
        self.formatting: list[_Element | None] = []  # None is a marker (a cell, a caption...)
        self.counts: dict[str, int] = {}
        self.deepest, self.limit, self.budget = ROOT_DEPTH, limit, budget
        self.over_limit = False

    # ------------------------------------------------------------ start tags
    def start_tag(self, name: str, attributes: str, self_closing: bool) -> str | None:
        """Open what the tag opens; returns the element name whose end tag ends a text-only
        content (script, style...), or None."""
        top = self.stack[-1]
        if top.foreign and top.name not in INTEGRATION:
            if not (name in BREAKOUT or name == "font" and _FONT_BREAKOUT.search(attributes)):
                self._open_or_leaf(name, self_closing, foreign=True)
                return None
            while len(self.stack) > 1 and self.stack[-1].foreign and self.stack[-1].name not in INTEGRATION:
                self._pop()
        if name in MERGED:
            return None
        if name in ("svg", "math"):
            self._reconstruct()
            self._open_or_leaf(name, self_closing, foreign=True)
            return None
        if name in TABLE_CONTEXT and name not in ("html", "template"):
            self._table_start(name)
            return None
        if name in ("col", "colgroup"):
            self._leaf(2)  # <colgroup><col>, and a column group holds columns only
            return None
        self._close_before(name, attributes)
        if name not in BLOCKS and name not in NOT_RECONSTRUCTING:
            self._reconstruct()
        if name in VOID:
            self._leaf(1)
        elif name in FORMATTING:
            self._open_formatting(name, attributes)
        else:
            self._push(name, marker=name in MARKERS)
        if name in BLOCKS:
            self._reconstruct()  # the parser does it at the block's first text: same depth
        return name if name in RAW_TEXT or name == "plaintext" else None

    def _close_before(self, name: str, attributes: str):
        """What a start tag closes first: an open <p>, <li>, <dd>/<dt>, <a>, <nobr>, <option>."""
        if name == "a" and self._formatting_entry("a"):
            self._adoption("a")
            entry = self._formatting_entry("a")
            if entry:
                self.formatting.remove(entry)
                if entry.open:
                    self._remove(entry)
        elif name == "nobr" and self._find("nobr", SCOPE) is not None:
            self._adoption("nobr")
        elif name in ("li", "dd", "dt"):
            self._close_list_item(("li",) if name == "li" else ("dd", "dt"))
        elif name == "button" and (at := self._find("button", SCOPE)) is not None:
            self._pop_to(at)
        elif name in ("option", "optgroup") and self.stack[-1].name == "option":
            self._pop()
        if name in CLOSES_P or name in ("li", "dd", "dt"):
            if (at := self._find("p", BUTTON_SCOPE)) is not None:
                self._pop_to(at)
            if name in HEADINGS and self.stack[-1].name in HEADINGS:
                self._pop()

    def _close_list_item(self, names: tuple):
        for at in range(len(self.stack) - 1, 0, -1):
            self._spend(1)
            element = self.stack[at]
            if element.name in names:
                self._pop_to(at)
                return
            if element.name in SPECIAL and element.name not in ("address", "div", "p"):
                return

    def _table_start(self, name: str):
        at, context = self._table_context()
        if name == "table":
            table = self._find("table", TABLE_SCOPE)
            if table is not None and (context in ("table", "tr") or context in TABLE_BODIES):
                self._pop_to(table)  # a table in a table (not in a cell) ends it
            self._push("table")
            return
        if name == "caption":
            if context != "html":
                table = self._find("table", TABLE_SCOPE)
                self._pop_to(table + 1 if table is not None else len(self.stack))
            self._push(name, marker=True)
            return
        if context in ("td", "th"):  # a row part ends the open cell
            self._pop_to(at)
            at, context = self._table_context()
        if name in ("tr", "tbody", "thead", "tfoot") and context == "tr":
            self._pop_to(at)
            at, context = self._table_context()
        if name in TABLE_BODIES and context in TABLE_BODIES:
            self._pop_to(at)
            at, context = self._table_context()
        if context == "html":
            return  # outside a table the parser ignores row parts
        self._push(name, weight=_levels(name, context), marker=name in ("td", "th"))

    def _table_context(self) -> tuple[int, str]:
        for at in range(len(self.stack) - 1, -1, -1):
            self._spend(1)
            if self.stack[at].name in TABLE_CONTEXT and not self.stack[at].foreign:
                return at, self.stack[at].name
        return 0, "html"

    def _open_or_leaf(self, name: str, self_closing: bool, foreign: bool):
        if self_closing:
            self._leaf(1)
        else:
            self._push(name, foreign=foreign)

    def _open_formatting(self, name: str, attributes: str):
        key = f"{name} {' '.join(attributes.split())}"
        same = [e for e in self._after_marker() if e.key == key]
        if len(same) >= 3:  # the "Noah's Ark" clause: at most three alike
            self.formatting.remove(same[0])
        self.formatting.append(self._push(name, key=key))

    # ------------------------------------------------------------ end tags
    def end_tag(self, name: str):
        if self.stack[-1].foreign:
            for at in range(len(self.stack) - 1, 0, -1):
                self._spend(1)
                element = self.stack[at]
                if element.name == name:
                    self._pop_to(at)
                    return
                if not element.foreign:
                    break
        if name in FORMATTING:
            self._adoption(name)
        elif name == "p":
            self._close_in("p", BUTTON_SCOPE)
        elif name == "li":
            self._close_in("li", LIST_SCOPE)
        elif name in HEADINGS:
            self._close_heading()
        elif name in CLOSED_IN_SCOPE:
            self._close_in(name, SCOPE)
        elif name in TABLE_CONTEXT:
            if name not in ("html",):
                self._close_in(name, TABLE_SCOPE)
        elif name == "br":
            self._leaf(1)
        elif name not in MERGED:
            self._close_any(name)

    def _close_in(self, name: str, scope: frozenset):
        at = self._find(name, scope)
        if at is not None:
            self._pop_to(at)

    def _close_heading(self):
        for at in range(len(self.stack) - 1, 0, -1):
            self._spend(1)
            if self.stack[at].name in HEADINGS:
                self._pop_to(at)
                return
            if self.stack[at].name in SCOPE:
                return

    def _close_any(self, name: str):
        """Any other end tag: closes the nearest open element of that name unless a special
        element (a <div>, a cell...) is open inside it; then the parser ignores it."""
        if not self.counts.get(name):
            return
        for at in range(len(self.stack) - 1, 0, -1):
            self._spend(1)
            if self.stack[at].name == name:
                self._pop_to(at)
                return
            if self.stack[at].name in SPECIAL:
                return

    def _adoption(self, name: str):
        """The adoption agency for a formatting end tag: close it if nothing special is open
        inside it, else move it inside the first special element (up to eight times)."""
        for _ in range(8):
            entry = self._formatting_entry(name)
            if entry is None:
                self._close_any(name)
                return
            if not entry.open:
                self.formatting.remove(entry)
                return
            at = self._index(entry)
            if at is None:
                return  # not in scope: ignored
            block = next((i for i in range(at + 1, len(self.stack)) if self._spend(1) or
                          self.stack[i].name in SPECIAL), None)
            if block is None:
                self._pop_to(at)
                self.formatting.remove(entry)
                return
            # The special element and what lies between move up a level (the parser removes
            # or re-wraps the elements between, never deeper); a copy of the formatting element
            # goes inside it, around its content, so what is open inside keeps its depth.
            del self.stack[at]
            entry.open = False
            for element in self.stack[at:block]:
                element.depth -= 1
            self._spend(block - at)
            moved = _Element(name, self.stack[block - 1].depth + 1, key=entry.key)
            self.stack.insert(block, moved)
            self.formatting[self.formatting.index(entry)] = moved

    def _index(self, entry: _Element) -> int | None:
        """Where an open element sits, or None where a scope boundary is open inside it."""
        for at in range(len(self.stack) - 1, 0, -1):
            self._spend(1)
            if self.stack[at] is entry:
                return at
            if self.stack[at].name in SCOPE:
                return None
        return None

    # ------------------------------------------------------------ the two structures
    def _formatting_entry(self, name: str) -> _Element | None:
        return next((e for e in reversed(self._after_marker()) if e.name == name), None)

    def _after_marker(self) -> list:
        at = len(self.formatting)
        while at and self.formatting[at - 1] is not None:
            at -= 1
        self._spend(len(self.formatting) - at)
        return self.formatting[at:]

    def _to_reconstruct(self) -> bool:
        return bool(self.formatting) and self.formatting[-1] is not None and not self.formatting[-1].open

    def _reconstruct(self):
        """Re-open the formatting elements closed by something else (`<p><b>x</p><p>y`: the
        second paragraph is bold too), as the parser does before text and inline tags."""
        entries = self.formatting
        if not entries or entries[-1] is None or entries[-1].open:
            return
        at = len(entries) - 1
        while at and entries[at - 1] is not None and not entries[at - 1].open:
            at -= 1
        for i in range(at, len(entries)):
            entries[i] = self._push(entries[i].name, key=entries[i].key)

    def _find(self, name: str, scope: frozenset) -> int | None:
        if not self.counts.get(name):
            return None
        for at in range(len(self.stack) - 1, 0, -1):
            self._spend(1)
            element = self.stack[at]
            if element.name == name and not element.foreign:
                return at
            if element.name in scope:
                return None
        return None

    def _push(self, name: str, weight: int = 1, foreign: bool = False, key: str = "", marker: bool = False):
        element = _Element(name, self.stack[-1].depth + weight, foreign, key)
        self.stack.append(element)
        self.counts[name] = self.counts.get(name, 0) + 1
        if marker:
            self.formatting.append(None)
        self._reach(element.depth)
        return element

    def _leaf(self, levels: int):
        self._reach(self.stack[-1].depth + levels)

    def _reach(self, depth: int):
        self._spend(1)
        if depth > self.deepest:
            self.deepest = depth
            self.over_limit = self.limit is not None and depth > self.limit

    def _pop(self):
        element = self.stack.pop()
        element.open = False
        self.counts[element.name] -= 1
        if element.name in MARKERS and not element.foreign:
            while self.formatting and self.formatting.pop() is not None:
                pass

    def _pop_to(self, at: int):
        while len(self.stack) > max(at, 1):
            self._pop()

    def _remove(self, element: _Element):
        at = self._index(element)
        if at is not None:
            del self.stack[at]
            element.open = False
            self.counts[element.name] -= 1

    def _spend(self, steps: int) -> bool:
        self.budget -= steps
        if self.budget < 0:
            raise ExtractCapped("tag structure too costly to measure")
        return False
