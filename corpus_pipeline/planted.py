"""Benchmark corpora: real documents in a seeded order, topped up with planted near-duplicates.

Consumes the real texts of `shared/data` (see its README) through `references`: Gutenberg
passages, WebText snippets, Common Crawl text (dolma, CCNet head), DCLM extracted pages,
Wikipedia and WikiText-2, about 13,100 documents (the pool), ordered by a hash of
"<seed>:<id>" (`seeded_order`). Produces corpora of any size for the dedup and
repeated-line benchmarks (`bench/dedup_bench.py`, `bench/dedup_quality.py`,
`bench/lines_bench.py`), so that their figures are measured on the same documents.

Corpus of size N (`build_corpus`): the first min(0.9 N, pool size) pool documents
("originals"), then planted near-duplicates until N: variant j copies original j mod n_orig
and edits a fraction f of its words, f uniform in EDIT_RANGE (from a hash of the seed and the
variant id); each edit drops the word or replaces it with a word drawn from the pool's
vocabulary (50/50). Every draw comes from a hash of (seed, key), so a corpus is the same in
every run.
"""
from __future__ import annotations

import glob
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import hashing
from . import references as R

# A checkout keeps the shared data beside it (../shared/data), as the tests expect too.
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SEED = 20240601
ORIGINAL_SHARE = 0.9  # at most this share of a corpus is real pool documents
EDIT_RANGE = (0.02, 0.10)  # share of a variant's words dropped or replaced


def real_sources(data: Path) -> dict:
    """name -> zero-argument loader of RefDocs; every file under data/ is real text."""
    wiki_xml = sorted(glob.glob(str(data / "positives/wikipedia/enwiki*.bz2")))[0]
    return {
        "books": lambda: R.load_gutenberg(str(data / "positives/books/*.txt"), "books", passage_chars=1500),
        "webtext": lambda: R.load_jsonl(str(data / "positives/webtext/webtext.valid.trunc63tok.jsonl"), "webtext"),
        "dolma_cc": lambda: R.load_jsonl(glob.glob(str(data / "cc_text/dolma_CC-MAIN-*.jsonl.gz"))[0], "dolma_cc"),
        "cc_head": lambda: R.load_jsonl(str(data / "cc_text/dolma-cc_en_head/cc_en_head-0091.jsonl"), "cc_head"),
        "dclm": lambda: (doc for doc, _ in R.load_labelled_jsonl(
            str(data / "cc_text/dclm-human-quality/majority_data.jsonl"), "dclm")),
        "wikipedia": lambda: R.load_mediawiki_xml(wiki_xml, "wikipedia"),
        "wikitext": lambda: R.load_wikitext_tokens(str(data / "positives/wikipedia/wikitext-2_valid.tokens.txt"),
                                                   "wikitext"),
    }


def seeded_order(key: str, seed: int = SEED) -> int:
    """Where `key` goes in the seeded order: a hash of "<seed>:<key>"."""
    return hashing.uint64(seed, key)


def load_pool(data: Path, sources: tuple[str, ...] | None = None) -> list:
    """Real RefDocs of the chosen sources, distinct ids, in seeded hash order."""
    docs = {}
    for name, load in real_sources(data).items():
        if sources is None or name in sources:
            docs.update((doc.id, doc) for doc in load())
    return sorted(docs.values(), key=lambda doc: seeded_order(doc.id))


def rng_for(key: str, seed: int = SEED) -> np.random.Generator:
    """A generator seeded by a hash of (seed, key): the same draws for a key in any run."""
    return np.random.default_rng(hashing.uint64(seed, key, byteorder="little"))


def vocabulary(pool: list, max_docs: int = 3000) -> list[str]:
    """Distinct words of the first pool documents: replacement words for planted edits."""
    return sorted({w for doc in pool[:max_docs] for w in doc.text.split()})


def edit_words(text: str, edits: int, rng, vocab: list[str]) -> str:
    """`edits` distinct word positions each dropped or replaced by a vocabulary word (50/50);
    paragraph breaks are kept."""
    lines = [line.split(" ") for line in text.split("\n")]
    positions = [(i, j) for i, line in enumerate(lines) for j in range(len(line))]
    chosen = rng.choice(len(positions), size=min(edits, len(positions)), replace=False)
    for k in chosen:
        i, j = positions[k]
        lines[i][j] = "" if rng.random() < 0.5 else vocab[rng.integers(len(vocab))]
    return "\n".join(" ".join(w for w in line if w) for line in lines)


def planted_variant(doc, variant_id: str, vocab: list[str]) -> str:
    rng = rng_for(variant_id)
    share = rng.uniform(*EDIT_RANGE)
    return edit_words(doc.text, max(1, round(share * len(doc.text.split()))), rng, vocab)


def build_corpus(pool: list, size: int, vocab: list[str]) -> tuple[list[dict], dict]:
    """Rows (id, text, source, original) and the composition; see the module docstring."""
    n_orig = min(round(ORIGINAL_SHARE * size), len(pool))
    rows = [dict(id=d.id, text=d.text, source=d.source, original=None) for d in pool[:n_orig]]
    for j in range(size - n_orig):
        doc = pool[j % n_orig]
        vid = f"v{j // n_orig}-{doc.id}"
        rows.append(dict(id=vid, text=planted_variant(doc, vid, vocab), source=doc.source, original=doc.id))
    by_source = {}
    for row in rows[:n_orig]:
        by_source[row["source"]] = by_source.get(row["source"], 0) + 1
    return rows, dict(size=size, originals=n_orig, planted=size - n_orig, by_source=by_source,
                      chars=sum(len(r["text"]) for r in rows))


def write_parquet(rows: list[dict], path: Path) -> None:
    """The rows' id and text columns, for a Spark stage to read."""
    table = pa.table({"id": [r["id"] for r in rows], "text": [r["text"] for r in rows]})
    pq.write_table(table, path, row_group_size=2000)
