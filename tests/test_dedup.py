"""Fuzzy dedup: MinHash maths without Spark, then the Spark stage on real CC documents with
near-duplicates the test plants at a measured similarity."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import random
import re
import subprocess
import sys

import mmh3
import numpy as np
import pytest
from pyspark.sql import functions as F

from corpus_pipeline import config, dedup, references
from corpus_pipeline.planted import build_corpus, edit_words, load_pool, rng_for, seeded_order, vocabulary
from corpus_pipeline.spark import dedup as spark_dedup

from .conftest import REPO, SHARED_DATA, shared_file

CFG = config.DedupConfig()


def test_shingles_of_short_and_empty_texts():
    assert dedup.shingles("", 5) == [] and dedup.shingles("  \n ", 5) == []
    assert len(dedup.shingles("Hello world", 5)) == 1  # shorter than n words: one shingle
    assert dedup.shingles("Hello World", 5) == dedup.shingles("hello   world", 5)
    assert len(dedup.shingles("one two three four five six", 5)) == 2


def mutate(text: str, fraction: float, rng: random.Random) -> str:
    words = text.split()
    for i in rng.sample(range(len(words)), max(1, int(len(words) * fraction))):
        words[i] = f"planted{rng.randrange(10**6)}"
    return " ".join(words)


@pytest.fixture(scope="module")
def cc_docs():
    path = shared_file("cc_text/dolma_CC-MAIN-20190717121559-20190717143559-00140_ccby-subset.jsonl.gz")
    return [d for d in references.load_jsonl(str(path), "cc") if len(d.text.split()) > 100][:200]


def test_minhash_agreement_estimates_jaccard(cc_docs):
    """Mean fraction of equal MinHash values over 200 pairs is within 5 standard errors of
    the mean exact Jaccard (each pair: 10 Bernoulli(J) draws)."""
    rng = random.Random(3)
    a, b = dedup.permutations(10, 7)
    agree, exact = [], []
    for doc in cc_docs:
        x, y = dedup.shingles(doc.text, 5), dedup.shingles(mutate(doc.text, 0.08, rng), 5)
        agree.append(np.mean(dedup.minhash(x, a, b) == dedup.minhash(y, a, b)))
        exact.append(dedup.jaccard(x, y))
    j = np.mean(exact)
    assert abs(np.mean(agree) - j) < 5 * math.sqrt(j * (1 - j) / (10 * len(exact)))


def test_band_collisions_follow_the_s_curve(cc_docs):
    """For one real pair, the share of 400 seeds under which it becomes a candidate matches
    1 - (1 - J^r)^b within 5 binomial standard errors."""
    rng = random.Random(5)
    x = dedup.shingles(cc_docs[0].text, 5)
    y = dedup.shingles(mutate(cc_docs[0].text, 0.06, rng), 5)
    j = dedup.jaccard(x, y)
    hits = []
    for seed in range(400):
        a, b = dedup.permutations(10, seed)
        kx, ky = dedup.band_keys(dedup.minhash(x, a, b), 5, 2), dedup.band_keys(dedup.minhash(y, a, b), 5, 2)
        hits.append(any(p == q for p, q in zip(kx, ky)))
    p = dedup.candidate_probability(j, 5, 2)
    assert abs(np.mean(hits) - p) < 5 * math.sqrt(p * (1 - p) / 400) + 1e-9, (j, np.mean(hits), p)


@pytest.fixture(scope="module")
def planted(cc_docs):
    """150 real CC documents plus 40 copies with 0.3-2% of their words replaced."""
    rng = random.Random(11)
    rows = [(d.id, d.text, round(rng.random(), 6)) for d in cc_docs[:150]]
    for d in cc_docs[:40]:
        rows.append((d.id + "-copy", mutate(d.text, rng.uniform(0.003, 0.02), rng), round(rng.random(), 6)))
    return rows


def exact_pairs(rows, threshold):
    sets = {i: set(dedup.shingles(t, CFG.ngram)) for i, t, _ in rows}
    ids = sorted(sets)
    return {(f"t:{a}", f"t:{b}") for n, a in enumerate(ids) for b in ids[n + 1:]
            if dedup.jaccard(sets[a], sets[b]) >= threshold}


def test_banded_pairs_against_exact_jaccard(spark, planted):
    truth = exact_pairs(planted, CFG.jaccard_threshold)
    assert len(truth) >= 35  # most planted copies are above the threshold (J >= 0.8)
    frame = spark.createDataFrame(planted, "id string, text string, quality_score double")
    edges, report = spark_dedup.banded_edges(spark_dedup.graph_nodes(frame, None), CFG)
    found = {(r.a, r.b) for r in edges.collect()}
    assert found <= truth  # precision 1: every candidate is verified exactly
    assert len(found) / len(truth) >= 0.95  # the S-curve gives >= 0.99 per pair at J >= 0.8
    assert report["candidate_pairs"] < 2 * len(planted)  # near-linear, not quadratic


def test_each_cluster_keeps_its_best_document(spark, planted):
    frame = spark.createDataFrame(planted, "id string, text string, quality_score double").repartition(3)
    tagged, report = spark_dedup.deduplicate(frame, None, CFG)
    rows = {r.id: r for r in tagged.collect()}
    score = {i: s for i, _, s in planted}
    for a, b in exact_pairs(planted, CFG.jaccard_threshold):
        a, b = a[2:], b[2:]
        if rows[a].dedup_reason is None and rows[b].dedup_reason is None:
            pytest.fail(f"{a} and {b} are duplicates and both kept")
    for row in rows.values():
        if row.dedup_reason:
            assert row.dedup_reason == "duplicate" and rows[row.duplicate_of].dedup_reason is None
            keeper = row.duplicate_of  # the best of the cluster: highest score, then smallest id
            assert (-score[keeper], keeper) < (-score[row.id], row.id)
    assert report["removed"]["duplicate"] == sum(1 for r in rows.values() if r.dedup_reason)
    again, _ = spark_dedup.deduplicate(frame.repartition(1), None, CFG)
    assert sorted((r.id, r.dedup_reason, r.duplicate_of) for r in again.collect()) == \
        sorted((r.id, r.dedup_reason, r.duplicate_of) for r in rows.values())


def test_the_rule_without_spark_decides_as_the_spark_stage(spark, planted):
    """dedup.near_duplicate_keepers (benchmarks use it) keeps, for every real document and
    planted copy, the document the Spark stage keeps."""
    ids, texts, scores = map(list, zip(*planted))
    keepers = dict(zip(ids, dedup.near_duplicate_keepers(texts, CFG, scores, ids)))
    frame = spark.createDataFrame(planted, "id string, text string, quality_score double")
    tagged, _ = spark_dedup.deduplicate(frame, None, CFG)
    assert keepers == {r.id: r.duplicate_of or r.id for r in tagged.collect()}
    assert sum(keeper != doc_id for doc_id, keeper in keepers.items()) >= 35


def test_the_rule_without_spark_in_a_bucket_over_max_bucket(cc_docs):
    """Six copies of a page share every band key: over max_bucket 2 the bucket is a star, and
    all six still form one cluster, kept by the best score, else by the first."""
    texts = [cc_docs[0].text] * 6 + [cc_docs[1].text, "", "   "]
    small = dataclasses.replace(CFG, max_bucket=2)
    assert dedup.near_duplicate_keepers(texts, small) == [0] * 6 + [6, 7, 8]
    scores = [0.1, 0.5, 0.9, None, 0.9, 0.2, 0.3, None, None]
    assert dedup.near_duplicate_keepers(texts, small, scores) == [2] * 6 + [6, 7, 8]


def test_reference_duplicates_are_removed_from_the_target_only(spark, planted):
    originals = [(i, t) for i, t, _ in planted[:40]]
    copies_and_others = [(i, t, s) for i, t, s in planted[40:]]  # unrelated docs 40..149 + the copies
    refs = spark.createDataFrame(originals, "id string, text string")
    targets = spark.createDataFrame(copies_and_others, "id string, text string, quality_score double")
    tagged, report = spark_dedup.deduplicate(targets, refs, CFG)
    removed = {r.id: r for r in tagged.filter(F.col("dedup_reason").isNotNull()).collect()}
    truth = {(a[2:], b[2:]) for a, b in exact_pairs(planted, CFG.jaccard_threshold)}
    expected = {b for a, b in truth if b.endswith("-copy") and a + "-copy" == b}
    assert expected and set(removed) >= {e for e in expected}
    assert all(r.dedup_reason == "duplicate_of_reference" for r in removed.values() if r.id.endswith("-copy"))
    # The kept document of a cluster with references is its smallest reference id: the
    # copy's own original, or another reference the original near-duplicates.
    reference_ids = {i for i, _ in originals}
    assert all(removed[c].duplicate_of in reference_ids for c in expected)
    assert sum(removed[c].duplicate_of == c.removesuffix("-copy") for c in expected) >= len(expected) - 3
    assert report["references"] == 40 and tagged.count() == len(copies_and_others)


def test_empty_short_and_exact_copies(spark):
    rows = [("e", "", 0.1), ("s1", "hello world", 0.2), ("s2", "Hello  world", 0.9), ("x", "unrelated words", 0.5)]
    tagged, report = spark_dedup.deduplicate(spark.createDataFrame(rows, "id string, text string, quality_score double"),
                                             None, CFG)
    result = {r.id: (r.dedup_reason, r.duplicate_of) for r in tagged.collect()}
    assert result == {"e": (None, None), "s1": ("duplicate", "s2"), "s2": (None, None), "x": (None, None)}
    assert report["unshingled_docs"] == 1
    empties = spark.createDataFrame([("a", ""), ("b", ""), ("c", None), ("d", "real words here")], "id string, text string")
    tagged, _ = spark_dedup.deduplicate(empties, None, dataclasses.replace(CFG, mode="spark_minhashlsh"))
    assert tagged.filter(F.col("dedup_reason").isNotNull()).count() == 0  # nothing to compare is no duplicate


def test_gpt3_minhashlsh_mode_finds_pairs_and_reports_candidate_cost(spark, planted):
    frame = spark.createDataFrame(planted, "id string, text string, quality_score double")
    faithful = dataclasses.replace(CFG, mode="spark_minhashlsh")
    _, gpt3 = spark_dedup.deduplicate(frame, None, faithful)
    _, ours = spark_dedup.deduplicate(frame, None, CFG)
    assert gpt3["removed"].get("duplicate", 0) >= 30
    assert gpt3["candidate_pairs_per_doc"] > 10 * ours["candidate_pairs_per_doc"]


def test_dedup_job_end_to_end(spark, planted, tmp_path):
    source = tmp_path / "docs"
    spark.createDataFrame(planted, "id string, text string, quality_score double").write.parquet(str(source))
    out = tmp_path / "out"
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env["PATH"]
    result = subprocess.run(["spark-submit", "--master", "local[2]", "jobs/dedup.py", "--input", str(source),
                             "--output", str(out)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    stats = json.loads((out / "stats.json").read_text())
    kept = spark.read.parquet(str(out / "documents")).count()
    dropped = spark.read.parquet(str(out / "dropped"))
    assert kept == stats["kept"] and kept + dropped.count() == len(planted)
    assert {r.reason for r in dropped.collect()} == {"duplicate"}
    assert "candidate pairs" in result.stdout
    assert f"removed duplicate {len(planted) - kept:,} (" in result.stdout and "{" not in result.stdout


def test_what_dedup_removed_reads_as_words():
    assert dedup.describe_removed({"removed": {}, "removed_fraction": 0.0}) == "none"
    assert dedup.describe_removed({"removed": {"duplicate_of_reference": 1, "duplicate": 3},
                                   "removed_fraction": 0.125}) == "duplicate 3, duplicate_of_reference 1 (12.5%)"


@pytest.fixture(scope="module")
def planted_web():
    """4,000 documents: the 1,069 real web pages of dolma CC and DCLM, then 2,931 planted
    variants of them (corpus_pipeline.planted, ~2.7 per page, so clusters of several
    members); quality scores from a hash of the id, a third of them None."""
    shared_file("cc_text/dclm-human-quality/majority_data.jsonl")
    pool = load_pool(SHARED_DATA, ("dolma_cc", "dclm"))
    rows, _ = build_corpus(pool, 4000, vocabulary(pool))
    score = lambda i: None if seeded_order(i) % 3 == 0 else seeded_order(i) % 1000 / 1000  # noqa: E731
    return [(r["id"], r["text"], score(r["id"])) for r in rows]


def decisions_digest(tagged) -> tuple[str, int]:
    rows = sorted((r.id, r.dedup_reason, r.duplicate_of) for r in tagged.collect())
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16], sum(1 for r in rows if r[1])


# (digest of the sorted (id, dedup_reason, duplicate_of), removed, candidate pairs, verified
# pairs) that the stage gave on `planted_web` when it signed texts row by row in a Python UDF
# with 5-word shingles for every text (commit 6dd2fac): with adapt_ngram off, signing in Arrow
# batches, the new candidate plan and the per-size buckets must not change them.
ROW_BY_ROW = {"default": ("e5bffcb741099013", 174, 4049, 196),
              "max_bucket 3": ("e5bffcb741099013", 174, 3526, 177),
              "first 300 as references": ("dbec84ebf256d51e", 171, 4040, 190)}
FIXED_5GRAMS = dataclasses.replace(CFG, adapt_ngram=False)


@pytest.mark.parametrize("case", list(ROW_BY_ROW))
def test_decisions_match_the_row_by_row_implementation(spark, planted_web, case):
    schema = "id string, text string, quality_score double"
    cfg = dataclasses.replace(FIXED_5GRAMS, max_bucket=3) if case == "max_bucket 3" else FIXED_5GRAMS
    if case == "first 300 as references":
        refs = spark.createDataFrame([(i, t) for i, t, _ in planted_web[:300]], "id string, text string")
        tagged, report = spark_dedup.deduplicate(spark.createDataFrame(planted_web[300:], schema), refs, cfg)
    else:
        tagged, report = spark_dedup.deduplicate(spark.createDataFrame(planted_web, schema), None, cfg)
    found = decisions_digest(tagged) + (report["candidate_pairs"], report["verified_pairs"])
    assert found == ROW_BY_ROW[case]
    if case == "default":  # and the rule without Spark agrees, document by document
        ids, texts, scores = map(list, zip(*planted_web))
        keepers = dict(zip(ids, dedup.near_duplicate_keepers(texts, cfg, scores, ids)))
        assert keepers == {r.id: r.duplicate_of or r.id for r in tagged.collect()}


def test_adapted_shingles_decide_as_the_rule_without_spark(spark, planted_web):
    """With shingles adapted to length (the default), the Spark stage and
    dedup.near_duplicate_keepers keep the same document for every real page and planted
    variant. The variants edit 2-10% of a page's words; of the pages under 62 words more are
    now removed than with fixed 5-grams (the edits that 5-grams made look distinct): 174 ->
    REMOVED_ADAPTED, and every added removal is kept through its own page or another
    variant of that page, never through another page."""
    ids, texts, scores = map(list, zip(*planted_web))
    tagged, report = spark_dedup.deduplicate(
        spark.createDataFrame(planted_web, "id string, text string, quality_score double"), None, CFG)
    spark_keepers = {r.id: r.duplicate_of or r.id for r in tagged.collect()}
    assert dict(zip(ids, dedup.near_duplicate_keepers(texts, CFG, scores, ids))) == spark_keepers
    assert sum(keeper != i for i, keeper in spark_keepers.items()) == report["removed"]["duplicate"] == REMOVED_ADAPTED
    fixed = dict(zip(ids, dedup.near_duplicate_keepers(texts, FIXED_5GRAMS, scores, ids)))
    added = {i for i, keeper in spark_keepers.items() if keeper != i and fixed[i] == i}
    page = lambda i: re.sub(r"^v\d+-", "", i)  # noqa: E731  a variant's id is v<k>-<its page's id>
    assert len(added) == REMOVED_ADAPTED - 174 and all(page(i) == page(spark_keepers[i]) for i in added)


REMOVED_ADAPTED = 356


@pytest.mark.parametrize("adapt_ngram", [True, False])
def test_batch_signing_equals_the_per_text_signer(planted_web, adapt_ngram):
    """sign_batch (the Spark stage's) gives the signatures (shingle size, shingles, band keys)
    of `signer` for every real and planted text, and for texts without words, shorter than n
    words, or non-ASCII."""
    cfg = dataclasses.replace(CFG, adapt_ngram=adapt_ngram)
    texts = [t for _, t, _ in planted_web[::7]] + ["", None, "  \n", "two words", "Ünïcode wörds, ǅ İ ß ﬁ here"]
    batch = dedup.sign_batch(texts, cfg, chunk=64)
    sign = dedup.signer(cfg)
    assert [(i, n, array.tolist(), keys) for i, n, array, keys in batch] == \
        [(i, n, ids, keys) for i, text in enumerate(texts) for n, ids, keys in sign(text)]
    for i, n, array, _ in batch:  # shingles by their definition: each n-gram built and hashed
        words = (texts[i] or "").lower().split()
        grams = [" ".join(words[k:k + n]) for k in range(max(len(words) - n + 1, 1))]
        assert array.tolist() == sorted({mmh3.hash(g.encode("utf-8"), 0, signed=False) for g in grams})
    assert [len(texts) - 5 + k in {i for i, *_ in batch} for k in range(5)] == [False, False, False, True, True]
    short = {n for i, n, *_ in batch if len(texts[i].split()) < 49}
    assert short == ({1, 2, 3, 4} if adapt_ngram else {5})  # real short texts of every size


def test_one_replaced_word_keeps_the_threshold_at_every_length():
    """The shingle size of a text of W words is the largest n <= 5 for which one replaced
    word, J = (S - n) / (S + n) with S = W - n + 1, stays >= 0.8; a text is also signed at the
    size of 0.8 W words, so a pair is always compared at its shorter text's size."""
    def one_edit(words, n):
        return (words - 2 * n + 1) / (words + 1)

    for words in range(9, 400):
        n = dedup.shingle_size(words, CFG)
        assert one_edit(words, n) >= CFG.jaccard_threshold - 1e-9
        assert n == CFG.ngram or one_edit(words, n + 1) < CFG.jaccard_threshold
        for shorter in range(math.ceil(0.8 * words), words + 1):
            assert dedup.shingle_size(shorter, CFG) in dedup.shingle_sizes(words, CFG)
    assert [dedup.shingle_size(w, CFG) for w in (18, 19, 28, 29, 38, 39, 48, 49)] == [1, 2, 2, 3, 3, 4, 4, 5]
    assert list(dedup.shingle_sizes(61, CFG)) == [4, 5] and list(dedup.shingle_sizes(62, CFG)) == [5]
    assert dedup.shingle_size(20, dataclasses.replace(CFG, adapt_ngram=False)) == 5


@pytest.fixture(scope="module")
def short_web():
    """Real short documents (WebText snippets and dolma CC pages of 19-48 words) in seeded
    order: the first 60 each get a copy with one word dropped or replaced (planted.edit_words),
    the next 300 stay as they are."""
    shared_file("positives/webtext/webtext.valid.trunc63tok.jsonl")
    pool = load_pool(SHARED_DATA, ("webtext", "dolma_cc"))
    short = [d for d in pool if 19 <= len(d.text.split()) <= 48][:360]
    vocab = vocabulary(pool)
    copies = [(d.id + "-edit", edit_words(d.text, 1, rng_for(f"test-edit:{d.id}"), vocab)) for d in short[:60]]
    return [(d.id, d.text) for d in short] + copies


def test_a_short_document_with_one_word_changed_is_a_near_duplicate(spark, short_web):
    """Each of 60 real 19-48-word documents and its one-word edit end in one cluster with one
    of them kept, but one: a 40-word WebText snippet that repeats the 6-word phrase "3D Face
    Reconstruction from a Single" has 3 fewer distinct 4-word shingles than 40 words give,
    so its edit falls to J 0.789. None of the other 300 real short documents is removed (they are distinct:
    the old 5-gram rule, which finds few of the edits, removes none of them either). The
    Spark stage keeps, document by document, what the rule without Spark keeps."""
    ids, texts = map(list, zip(*short_web))
    keepers = dict(zip(ids, dedup.near_duplicate_keepers(texts, CFG, ids=ids)))
    edited = [i.removesuffix("-edit") for i in ids if i.endswith("-edit")]
    missed = {i for i in edited if keepers[i] != keepers[i + "-edit"]}
    assert missed == {"d1eb02589ad90a3472aff746"}
    assert all(keepers[i] in (i, i + "-edit") for i in edited)  # one of the two kept, never a third
    distinct = [i for i in ids[:len(ids) - len(edited)] if i not in edited]
    assert len(distinct) == 300 and all(keepers[i] == i for i in distinct)
    old = dict(zip(ids, dedup.near_duplicate_keepers(texts, dataclasses.replace(CFG, adapt_ngram=False), ids=ids)))
    assert all(old[i] == i for i in distinct)
    assert sum(old[i] == old[i + "-edit"] for i in edited) < 30  # what the 5-gram rule missed
    tagged, _ = spark_dedup.deduplicate(spark.createDataFrame(short_web, "id string, text string"), None, CFG)
    assert keepers == {r.id: r.duplicate_of or r.id for r in tagged.collect()}


def test_clusters_on_the_driver_equal_the_clusters_of_label_propagation(spark, planted_web):
    """Few verified pairs are clustered on the driver; many by min-label propagation in Spark.
    On the verified pairs of `planted_web` (chains of planted variants included) both give
    every node the same component."""
    frame = spark.createDataFrame(planted_web, "id string, text string, quality_score double")
    edges, _ = spark_dedup.banded_edges(spark_dedup.graph_nodes(frame, None), CFG)
    edges = edges.cache()
    driver = spark_dedup.components(edges, edges.count(), CFG.max_iterations).collect()
    spread = spark_dedup.connected_components(edges, CFG.max_iterations).collect()
    assert sorted(driver) == sorted(spread)
    assert len({r.component for r in driver}) < len(driver) - 100  # real clusters, several of 3+ members
