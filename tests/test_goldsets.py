"""The human-gold extraction sets (corpus_pipeline.goldsets) on the real data: the gold
readers (a figure is only as good as the gold it is scored against), the scoring, the
fingerprint, and the job's order (dedup, then repeated lines) that the extraction bench
applies to each set."""
from __future__ import annotations

from collections import Counter

from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from corpus_pipeline import dedup, goldsets, lines
from corpus_pipeline.config import DedupConfig
from corpus_pipeline.extract import extract_main_text

from .conftest import shared_file


def test_l3s_gold_holds_each_text_of_the_page_once():
    """The annotated copy nests its spans (a sentence inside up to ten x-nc-sel2 spans); read
    span by span, its gold held such a sentence once per level, more often than the page."""
    root = shared_file("web_html/l3s-gn1").parent
    golds = {name: gold for name, _, gold in goldsets.l3s_gn1(root)}
    assert len(golds) == 497
    folder = next((root / "l3s-gn1").glob("L3S-GN1-*"))
    nested = "2205dc57-e427-4779-8313-aab69de7e77c.html"  # 4,812 gold words read span by span, 514 now
    sentence = "Prime Minister Helen Clark who returned to New Zealand"
    assert golds[nested].count(sentence) == 1
    for name in sorted(golds)[:60] + [nested]:
        annotated = HTMLTree.parse(goldsets.read_text(folder / "annotated" / name))
        page_words = Counter(extract_plain_text(annotated).split())
        gold_words = Counter(golds[name].split())
        assert sum((gold_words - page_words).values()) <= 0.02 * sum(gold_words.values()), name


def test_dragnet_gold_stops_at_every_form_of_the_comments_line():
    """12 of the 328 gold files that hold reader comments mark their start with a variant of
    '!@#$%^&*()  COMMENTS' (one space, a tab, a missing symbol): none may reach the gold."""
    root = shared_file("web_html/dragnet").parent
    golds = {name: gold for name, _, gold in goldsets.dragnet(root)}
    assert len(golds) == 1105
    assert not [name for name, gold in golds.items() if "COMMENTS" in gold and "!@#" in gold]
    assert "Natalia July 31, 2012" not in golds["27.html"]  # its first comment, after "!@#$%^&*() COMMENTS"
    assert golds["27.html"].rstrip().endswith("Paulo")


def test_the_jobs_order_keeps_a_page_that_the_set_holds_twice():
    """CleanEval holds one film review twice (dev and final 60.html, the same bytes). Repeated-
    line removal alone leaves the second copy empty; the job deduplicates first, so the copy is
    dropped as a near-duplicate and the corpus holds the review once, whole."""
    root = shared_file("web_html/cleaneval").parent
    paths = ("cleaneval-dev/input/60.html", "cleaneval-dev/input/1.html",
             "cleaneval-final/input/60.html", "cleaneval-final/input/61.html")
    pages = [goldsets.cleaneval_html(root / "cleaneval" / path) for path in paths]
    texts = [extract_main_text(page) for page in pages]
    assert texts[0] == texts[2] and len(texts[0]) > 5000 and texts[1] != texts[3]

    keepers = dedup.near_duplicate_keepers(texts, DedupConfig())
    kept = lines.drop_repeated_lines({i: text for i, text in enumerate(texts) if keepers[i] == i})

    assert keepers == [0, 1, 0, 3]
    assert kept[0] == (texts[0], 0)  # the review's lines are on no other page
    assert lines.drop_repeated_lines(dict(enumerate(texts)))[2] == ("", texts[0].count("\n") + 1)


def test_word_scores_of_an_output_against_its_gold():
    assert goldsets.bag_of_words_prf("The cat sat", "the cat sat on the mat") == (1.0, 0.5, 2 / 3)
    assert goldsets.bag_of_words_prf("cat cat dog", "cat") == (1 / 3, 1.0, 0.5)  # words are a multiset
    assert goldsets.bag_of_words_prf("", "cat") == (0.0, 0.0, 0.0)


def test_every_set_loads_with_its_page_count_and_a_stable_fingerprint():
    """The 2,417 pages with a worded gold that the shipped block model was trained on; the
    fingerprint follows every byte of a page or its gold."""
    root = shared_file("web_html")
    pages, empty = goldsets.load_pages(root, goldsets.GOLD_SETS, limit=None)
    assert {name: len(rows) for name, rows in pages.items()} == {
        "CleanEval": 592, "CleanPortalEval": 56, "Scrapinghub": 145, "htmltotext": 22, "L3S-GN1": 497, "Dragnet": 1105}
    assert goldsets.fingerprint(pages) == "276607bd61eaa8bb" and sum(empty.values()) > 0
    name, data, gold = pages["htmltotext"][0]
    changed = {**pages, "htmltotext": [(name, data, gold + " x"), *pages["htmltotext"][1:]]}
    assert goldsets.fingerprint(changed) != "276607bd61eaa8bb"


def test_wcxb_dev_pages_with_their_types_and_the_benchmarks_empty_reference_rule():
    root = shared_file("web_html/wcxb-dev").parent
    rows = list(goldsets.wcxb_dev(root))
    assert Counter(page_type for *_, page_type in rows) == {
        "service": 165, "product": 119, "collection": 117, "forum": 113, "listing": 99, "documentation": 91}
    empty = [name for name, _, gold, _ in rows if not gold.strip()]
    assert len(empty) == 19
    assert goldsets.word_prf("", "") == (1.0, 1.0, 1.0) and goldsets.word_prf("menu", "") == (0.0, 0.0, 0.0)
    # \w+ tokens, lower-cased: punctuation and case do not count, unlike bag_of_words_prf
    assert goldsets.word_prf("Hello, World!", "hello world") == (1.0, 1.0, 1.0)
    assert goldsets.bag_of_words_prf("Hello, World!", "hello world")[2] == 0.0
