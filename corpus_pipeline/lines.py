"""Repeated-line removal without Spark: the rule that `spark/lines.py` runs over a corpus.

Consumes documents (id, text with one block per line); produces each document's text
without the lines that another document holds too, except in one document per line.

Site templates (menus, sign-up boxes, testimonials, footers) repeat line for line across a
site's pages, and a per-page extractor cannot tell them from content on one page alone.
CCNet (Wenzek et al. 2020) removes paragraphs repeated across a shard, by hash. Here each
repeated line stays in one document, its keeper, so that text which pages share without
being near-duplicates (a quote, a syndicated paragraph) is not lost from the corpus
altogether. The keeper is the document with the smallest id: ids are hashes of the record
id, so the choice is arbitrary, deterministic, and the same however Spark partitions the run.

A line is compared exactly: the extractor already collapses whitespace, and template
lines repeat verbatim. A line repeated inside one document is left alone.
"""
from __future__ import annotations

from typing import Iterable


def line_keepers(docs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """{line: id of the document that keeps it}, for every line of every (id, text)."""
    keepers: dict[str, str] = {}
    for doc_id, text in docs:
        for line in text.split("\n"):
            if line not in keepers or doc_id < keepers[line]:
                keepers[line] = doc_id
    return keepers


def without_repeated_lines(doc_id: str, text: str, keepers: dict[str, str]) -> tuple[str, int]:
    """(the text without the lines another document keeps, how many lines were removed)."""
    lines = text.split("\n")
    kept = [line for line in lines if keepers[line] == doc_id]
    return "\n".join(kept), len(lines) - len(kept)


def drop_repeated_lines(docs: dict[str, str]) -> dict[str, tuple[str, int]]:
    """{id: (text, lines removed)} for a whole collection held in memory."""
    keepers = line_keepers(docs.items())
    return {doc_id: without_repeated_lines(doc_id, text, keepers) for doc_id, text in docs.items()}
