"""Benchmark decontamination without Spark (GPT-3 Appendix C): grams, hashes, loaders, the cut.

Consumes benchmark files (JSON lines or CSV, fields named in `conf/decontam.yaml`) and
training text; produces the 13-grams of each benchmark example and, for one training
document, the cleaned text given the character spans of its colliding grams.

GPT-3's rule, as implemented here:
- a gram is a lowercase, whitespace-delimited word with its punctuation deleted ("don't" ->
  "dont"; ASCII `string.punctuation` and every Unicode P* character, as lm-evaluation-harness'
  Janitor and the shared data's reference run do); a word that is only punctuation is no gram;
- each colliding n-gram (n = 13) is removed with `window_chars` characters on each side,
  which splits the document into pieces; pieces shorter than `min_piece_chars` are dropped;
  a document split into more than `max_pieces` pieces is contaminated and dropped whole;
- grams found in more than `max_doc_frequency` training documents are ignored (decided by
  the Spark stage: the count is global).

Gram hashes are 64-bit polynomial hashes over per-word BLAKE2b hashes (numpy, vectorised);
they only find candidates: a match also needs the gram strings to be equal, so a hash
collision can never cut text.
"""
from __future__ import annotations

import csv
import functools
import io
import json
import re
import string
import sys
import unicodedata
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from . import hashing

_WORD = re.compile(r"\S+")
# Odd 64-bit multiplier for the polynomial gram hash (arithmetic mod 2^64).
_BASE = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class Example:
    benchmark: str
    example: str  # id field, or the 0-based line/row number
    units: tuple[str, ...]  # texts whose grams are taken separately (no gram spans two units)


@dataclass(frozen=True)
class Cut:
    text: str  # kept pieces joined by the separator; "" when dropped
    pieces: int  # pieces the split produced (1: nothing removed); the > max_pieces rule uses it
    kept_pieces: int  # pieces at least min_piece_chars long, which stay
    chars_removed: int  # characters of the original text not in a kept piece
    contaminated: bool  # dropped whole: split into more than max_pieces, or no piece left
    windows: tuple[tuple[int, int], ...]  # merged removed windows [start, end) around grams
    short_pieces: tuple[tuple[int, int], ...]  # pieces dropped for being short


# ---------------------------------------------------------------- grams


@functools.lru_cache(maxsize=1)
def punctuation_table() -> dict[int, None]:
    """str.translate table deleting ASCII punctuation and every Unicode P* code point."""
    table = {ord(c): None for c in string.punctuation}
    table.update({cp: None for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)).startswith("P")})
    return table


def normalize_word(word: str) -> str:
    return word.lower().translate(punctuation_table())


def words(text: str) -> tuple[list[str], list[int], list[int]]:
    """The grams of `text`, and the character span text[start:end] of the word each came
    from. Parallel lists, not objects: this runs once per word of the corpus."""
    grams, starts, ends, cache = [], [], [], {}
    for match in _WORD.finditer(text):
        raw = match.group()
        gram = cache.get(raw)
        if gram is None:
            gram = cache[raw] = normalize_word(raw)
        if gram:
            start, end = match.span()
            grams.append(gram)
            starts.append(start)
            ends.append(end)
    return grams, starts, ends


def word_hash(gram: str) -> int:
    return hashing.uint64(gram, byteorder="little")


def gram_hashes(grams: list[str], n: int) -> np.ndarray:
    """int64 hash of each run of n consecutive grams (len(grams) - n + 1 of them, or none)."""
    count = len(grams) - n + 1
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    cache: dict[str, int] = {}
    for g in grams:
        if g not in cache:
            cache[g] = word_hash(g)
    w = np.fromiter((cache[g] for g in grams), dtype=np.uint64, count=len(grams))
    acc = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):  # mod 2^64 arithmetic is the point
        for k in range(n):
            acc = acc * _BASE + w[k:k + count]
    return acc.view(np.int64)


def gram_text(grams: list[str], i: int, n: int) -> str:
    return " ".join(grams[i:i + n])


def text_grams(text: str, n: int) -> Iterator[tuple[int, str]]:
    """(hash, gram string) of every n-gram of a benchmark text."""
    grams = words(text)[0]
    for i, h in enumerate(gram_hashes(grams, n).tolist()):
        yield h, gram_text(grams, i, n)


def colliding_grams(text: str, n: int, table: np.ndarray) -> list[tuple[int, str, int, int]]:
    """(hash, gram string, start, end) of each n-gram of `text` whose hash is in the sorted
    int64 array `table`; start/end are the character span from its first to last word."""
    grams, starts, ends = words(text)
    hashes = gram_hashes(grams, n)
    if not len(hashes) or not len(table):
        return []
    slots = np.minimum(np.searchsorted(table, hashes), len(table) - 1)
    hits = np.nonzero(table[slots] == hashes)[0]
    return [(int(hashes[i]), gram_text(grams, i, n), starts[i], ends[i + n - 1]) for i in hits.tolist()]


# ---------------------------------------------------------------- the cut (Appendix C)


def merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of [start, end) intervals, sorted; touching intervals become one."""
    merged: list[list[int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def cut(text: str, gram_spans: list[tuple[int, int]], window_chars: int, min_piece_chars: int,
        max_pieces: int, separator: str = "\n\n") -> Cut:
    """Apply GPT-3's removal to one document, given the character spans of its colliding grams."""
    if not gram_spans:
        return Cut(text, 1, 1, 0, False, (), ())
    windows = merge([(max(0, s - window_chars), min(len(text), e + window_chars)) for s, e in gram_spans])
    bounds = [0] + [x for w in windows for x in w] + [len(text)]
    pieces = [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2) if bounds[i + 1] > bounds[i]]
    kept = [p for p in pieces if p[1] - p[0] >= min_piece_chars]
    short = tuple(p for p in pieces if p[1] - p[0] < min_piece_chars)
    contaminated = len(pieces) > max_pieces or not kept
    if contaminated:
        return Cut("", len(pieces), 0, len(text), True, tuple(windows), short)
    kept_chars = sum(e - s for s, e in kept)
    return Cut(separator.join(text[s:e] for s, e in kept), len(pieces), len(kept), len(text) - kept_chars,
               False, tuple(windows), short)


def decontaminate_text(text: str, table_grams: dict[int, str], n: int = 13, window_chars: int = 200,
                       min_piece_chars: int = 200, max_pieces: int = 10, separator: str = "\n\n") -> Cut:
    """The whole rule on one document without Spark: `table_grams` maps hash -> gram string of
    the benchmark grams (already frequency-filtered). Verification: hash and string must match."""
    table = np.array(sorted(table_grams), dtype=np.int64)
    spans = [(s, e) for h, gram, s, e in colliding_grams(text, n, table) if table_grams[h] == gram]
    return cut(text, spans, window_chars, min_piece_chars, max_pieces, separator)


# ---------------------------------------------------------------- benchmark loaders
#
# A text field spec names where text is in one record:
#   "passage"                       a field
#   "question.stem"                 a nested field
#   "question.choices[].text"       each element of a list (one unit each)
#   "InputSentence1+InputSentence2" fields joined by a space into one unit (StoryCloze)
#   "sentence|_=option1"            the field with "_" replaced by field option1 (WinoGrande)


def resolve(record, path: str) -> list[str]:
    values = [record]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part[:-2] if many else part
        values = [v.get(key) if isinstance(v, dict) else None for v in values]
        if many:
            values = [item for v in values if isinstance(v, list) for item in v]
    return [v for v in values if isinstance(v, str)]


def field_units(record, spec: str) -> list[str]:
    """The text units that one field spec gives for one record."""
    spec, _, fill = spec.partition("|")
    parts = [resolve(record, p) for p in spec.split("+")]
    units = parts[0] if len(parts) == 1 else [" ".join(v for values in parts for v in values)]
    if fill:
        blank, _, option_field = fill.partition("=")
        option = resolve(record, option_field)
        units = [u.replace(blank, option[0]) for u in units] if option else []
    return [u for u in units if u.strip()]


def read_records(data: str, fmt: str) -> Iterator[dict]:
    if fmt == "jsonl":
        for line in data.splitlines():
            if line.strip():
                yield json.loads(line)
    elif fmt == "csv":
        yield from csv.DictReader(io.StringIO(data))
    else:
        raise ValueError(f"unknown benchmark format {fmt!r} (jsonl or csv)")


def load_examples(name: str, data: str, fmt: str, text_fields: tuple[str, ...], id_field: str = "") -> Iterator[Example]:
    """One Example per record of a benchmark file's contents; ids are `id_field` or the
    0-based record number."""
    for number, record in enumerate(read_records(data, fmt)):
        key = str(record.get(id_field)) if id_field else str(number)
        units = tuple(u for spec in text_fields for u in field_units(record, spec))
        yield Example(name, key, units)


def example_grams(example: Example, n: int) -> dict[int, str]:
    """hash -> gram string of all n-grams of an example, taken per unit."""
    return {h: g for unit in example.units for h, g in text_grams(unit, n)}


def table_c1(report: dict) -> str:
    """The report as text: GPT-3 Table C.1's columns per benchmark, then the datasets."""
    lines = [f"{'benchmark':<16} {'split':<5} {'examples':>8} {'too short':>9} {'dirty':>6} {'clean':>6} {'dirty %':>8}"]
    for name, row in report["benchmarks"].items():
        share = "" if row["dirty_fraction"] is None else f"{100 * row['dirty_fraction']:.2f}%"
        lines.append(f"{name:<16} {row['split']:<5} {row['examples']:>8,} {row['too_short']:>9,} {row['dirty']:>6,} "
                     f"{row['clean']:>6,} {share:>8}")
    lines.append(f"{'dataset':<16} {'docs':>8} {'kept':>8} {'modified':>8} {'removed':>8} {'chars removed':>14}")
    for name, row in report["datasets"].items():
        lines.append(f"{name:<16} {row['docs']:>8,} {row['kept']:>8,} {row['modified']:>8,} {row['removed']:>8,} "
                     f"{row['chars_removed_from_modified']:>14,}")
    grams = report["grams"]
    lines.append(f"grams matched {grams['matched']:,}; ignored as frequent (> {report['rule']['max_doc_frequency']} "
                 f"documents) {grams['ignored_frequent']:,}")
    return "\n".join(lines)


def format_summary(report: dict, seconds: float, output: str) -> str:
    """What jobs/decontaminate.py prints: the counts, then Table C.1."""
    modified = sum(row["modified"] for row in report["datasets"].values())
    return "\n".join([
        f"corpus-pipeline decontaminate: {report['kept']:,} documents written ({modified:,} modified), "
        f"{report['dropped']['contaminated']:,} dropped as contaminated, {report['spans']:,} spans removed, "
        f"in {seconds:.1f} s", table_c1(report), f"  output {output}"])
