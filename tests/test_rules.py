"""Gopher and C4 rules: one test per reason code on literal texts, tag() robustness, the
n-gram counts against their plain definition, and keep counts on real crawl documents."""
from __future__ import annotations

import dataclasses
import itertools
from collections import Counter

import pytest

from corpus_pipeline import references, rules
from corpus_pipeline.config import ConfigError, RulesConfig

from .conftest import shared_file

QUALITY = RulesConfig(gopher_quality=True)
REPETITION = RulesConfig(gopher_repetition=True)
C4 = RulesConfig(c4=True)
ALL = RulesConfig(gopher_quality=True, gopher_repetition=True, c4=True)
WIKIPEDIA = "positives/wikipedia/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


def prose(n: int) -> str:
    """n words of plain English on one line: mean length 3.9, two stop words, no repeat of
    a 5-gram within 9 words."""
    return " ".join(itertools.islice(itertools.cycle("the quick brown fox jumps over a lazy dog and".split()), n))


def failure(text: str, cfg: RulesConfig):
    return rules.first_failure(rules.tags_of(text), cfg)


def test_gopher_quality_thresholds_just_pass_and_just_fail():
    assert failure(prose(50), QUALITY) is None
    assert failure(prose(49), QUALITY) == ("gopher_quality", "words 49 < 50")
    assert failure(prose(61), dataclasses.replace(QUALITY, gopher_max_words=60)) == ("gopher_quality", "words 61 > 60")
    # Mean word length: "the and" x 25 is 3.0 exactly; one "to" for a "the" is below.
    assert failure("the and " * 25, QUALITY) is None
    assert failure("to and " + "the and " * 24, QUALITY) == ("gopher_quality", "mean word length 2.98 < 3.0")
    # "#" per token: 5 in 55 tokens pass, 6 in 56 fail (0.107); "…" likewise.
    assert failure(prose(50) + " #" * 5, QUALITY) is None
    assert failure(prose(50) + " #" * 6, QUALITY) == ("gopher_quality", "hashes per word 0.107 > 0.1")
    assert failure(prose(50) + " …" * 6 + " end", QUALITY) == ("gopher_quality", "ellipses per word 0.105 > 0.1")
    # Bullet lines: 9 of 10 pass, 10 of 10 fail.
    lines = [f"- {prose(10)}" for _ in range(10)]
    assert failure("\n".join(lines[:9] + [prose(10)]), QUALITY) is None
    assert failure("\n".join(lines), QUALITY) == ("gopher_quality", "bullet lines 1 > 0.9")
    # Lines ending with an ellipsis: 3 of 10 pass, 4 fail.
    ends = [prose(10) + ("..." if i < 4 else ".") for i in range(10)]
    assert failure("\n".join(ends[1:] + [prose(10) + "."]), QUALITY) is None
    assert failure("\n".join(ends), QUALITY) == ("gopher_quality", "ellipsis lines 0.4 > 0.3")
    # Tokens with a letter: 50 of 62 pass (0.806), 50 of 63 fail; numbers are words.
    assert failure(prose(50) + " 1999" * 12, QUALITY) is None
    assert failure(prose(50) + " 1999" * 13, QUALITY) == ("gopher_quality", "alphabetic words 0.794 < 0.8")
    assert failure("the quick brown fox " * 13, QUALITY) == ("gopher_quality", "stop words 1 < 2")


def test_gopher_quality_signals_of_a_literal_text():
    tags = rules.tags_of("The U.S. team won 3-4, Mr. Smith's well-known #1 side... wait\n• a list item")
    # The|U.S.|team|won|3|-|4|,|Mr.|Smith|'s|well|-|known|#|1|side|...|wait|•|a|list|item
    assert tags["gopher_words"] == 17
    assert tags["gopher_mean_word_length"] == pytest.approx(53 / 17)
    assert tags["gopher_alpha_word_ratio"] == pytest.approx(14 / 23)
    assert tags["gopher_hash_word_ratio"] == tags["gopher_ellipsis_word_ratio"] == pytest.approx(1 / 23)
    assert tags["gopher_bullet_line_ratio"] == 0.5 and tags["gopher_ellipsis_line_ratio"] == 0.0
    assert tags["gopher_stop_words"] == 0  # "The" is not "the", as in datatrove


def test_gopher_repetition_thresholds_just_pass_and_just_fail():
    unique = [" ".join(f"{word}{i}" for word in prose(10).split()) for i in range(6)]  # no shared word
    # "Yes." repeats 3 times in 10 paragraphs: 0.3 passes; 4 times in 11 fail (0.364).
    assert failure("\n\n".join(unique + ["Yes."] * 4), REPETITION) is None
    assert failure("\n\n".join(unique + ["Yes."] * 5), REPETITION) == ("gopher_repetition",
                                                                       "duplicate paragraphs 0.364 > 0.3")
    # Single line breaks: lines, not paragraphs.
    assert failure("\n".join(unique + ["Yes."] * 5), REPETITION) == ("gopher_repetition",
                                                                      "duplicate lines 0.364 > 0.3")
    tags = rules.tags_of("\n".join(unique + ["Yes."] * 5))
    for column in ("gopher_dup_line_frac", "gopher_top_2gram_frac", "gopher_dup_5gram_frac"):
        bound = getattr(REPETITION, column.replace("gopher_", "gopher_max_"))
        assert rules.first_failure({**tags, "gopher_dup_line_frac": 0.0, column: bound}, REPETITION) is None
        detail = rules.first_failure({**tags, "gopher_dup_line_frac": 0.0, column: bound + 0.001}, REPETITION)
        assert detail[0] == "gopher_repetition" and detail[1].endswith(f"> {bound}")
    assert failure("", REPETITION) == ("gopher_repetition", "empty text")


def test_gopher_repetition_fractions_of_a_literal_text():
    text = "a b c d e a b c d e x"  # 21 characters
    tags = rules.tags_of(text)
    assert tags["gopher_top_2gram_frac"] == pytest.approx(3 * 2 / 21)  # "a b" twice
    assert tags["gopher_dup_5gram_frac"] == pytest.approx(5 / 21)  # the second "abcde", without spaces
    assert tags["gopher_dup_6gram_frac"] == 0.0
    tags = rules.tags_of("same\nsame\nother line")
    assert tags["gopher_dup_line_frac"] == pytest.approx(1 / 3)
    assert tags["gopher_dup_line_char_frac"] == pytest.approx(4 / 20)
    assert tags["gopher_dup_para_frac"] == 0.0


def test_c4_thresholds_just_pass_and_just_fail():
    sentence = "This line ends as a sentence should."
    assert failure("\n".join([sentence] * 5), C4) is None
    assert failure("\n".join([sentence] * 4), C4) == ("c4", "sentences on kept lines 4 < 5")
    # Lines C4 removes count no sentence: no end mark, an ellipsis, under 3 words, javascript, policy.
    removed = ["No end mark here", "Trailing off...", "Too short.", "Please enable JavaScript to continue.",
               "Read our privacy policy first."]
    tags = rules.tags_of("\n".join([sentence] * 4 + removed))
    assert (tags["c4_lines"], tags["c4_kept_lines"], tags["c4_kept_words"], tags["c4_kept_sentences"]) == (9, 4, 28, 4)
    assert tags["c4_javascript_lines"] == tags["c4_policy_lines"] == 1
    # Sentences inside a line; initials and abbreviations end none.
    assert failure("Mr. Smith met J. Doe. They talked. It rained! Was it late? Yes, it was.", C4) is None
    assert failure("Mr. Smith met J. Doe. They talked. It rained! Was it late?", C4) == (
        "c4", "sentences on kept lines 4 < 5")
    five = "\n".join([sentence] * 5)
    assert failure(five + "\nLorem ipsum dolor sit amet.", C4) == ("c4", "lorem ipsum present on a kept line")
    assert failure(five + "\nLorem ipsum dolor sit amet", C4) is None  # on a line C4 removes anyway
    assert failure(five + "\nfunction f() { return 1; }.", C4) == ("c4", "curly bracket present on a kept line")
    assert failure(five + "\nvar x = {javascript: 1};", C4) is None
    assert failure(five + "\nLorem ipsum dolor sit amet.", dataclasses.replace(C4, c4_drop_lorem_ipsum=False)) is None


def test_families_are_off_by_default_and_tried_in_order():
    tags = rules.tags_of("")
    assert rules.first_failure(tags, RulesConfig()) is None  # GPT-3 used none of these rules
    assert rules.first_failure(tags, ALL) == ("gopher_quality", "words 0 < 50")
    assert rules.first_failure(tags, dataclasses.replace(ALL, gopher_quality=False))[0] == "gopher_repetition"
    assert rules.first_failure(tags, C4) == ("c4", "sentences on kept lines 0 < 5")


def test_config_validation():
    RulesConfig().validate()
    with pytest.raises(ConfigError, match="rules.gopher_max_dup_line_frac must be in"):
        RulesConfig(gopher_max_dup_line_frac=1.5).validate()
    with pytest.raises(ConfigError, match="rules.gopher_min_words"):
        RulesConfig(gopher_min_words=10, gopher_max_words=5).validate()


KINDS = {"int": int, "double": float, "boolean": bool}


@pytest.mark.parametrize("text", ["", "\x00", "\x00 the\x00and\n\x00", "\ud800 surrogate", " \n\n ",
                                  "a" * 1_000_000, ". " * 500_000, "the cat. " * 110_000, "{" + "é\u0301" * 300_000])
def test_tag_never_raises_and_gives_every_column_its_kind(text):
    values = rules.tag(text)
    assert len(values) == len(rules.TAG_COLUMNS)
    for value, (name, kind) in zip(values, rules.TAG_COLUMNS):
        assert type(value) is KINDS[kind], name
        assert kind != "double" or value >= 0.0, name
    # Fractions stay within [0, 1], except the top n-grams', which count overlapping
    # occurrences with their spaces (as Gopher and datatrove do): ". . ." gives 1.5.
    for value, (name, _) in zip(values, rules.TAG_COLUMNS):
        assert not name.endswith(("_ratio", "_frac")) or "_top_" in name or value <= 1.0, name


def plain_ngram_counts(tokens: list[str]) -> tuple[dict[int, int], dict[int, int]]:
    """Gopher's n-gram statistics straight from their definition, slowly."""
    top, dup = {}, {}
    for n in rules.TOP_NGRAMS:
        grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
        gram, count = Counter(grams).most_common(1)[0] if grams else ((), 0)
        top[n] = (sum(map(len, gram)) + n - 1) * count if grams else 0
    for n in rules.DUP_NGRAMS:
        seen, chars, i = set(), 0, 0
        while i <= len(tokens) - n:
            gram = tuple(tokens[i:i + n])
            if gram in seen:
                chars, i = chars + sum(map(len, gram)), i + n
            else:
                seen.add(gram)
                i += 1
        dup[n] = chars
    return top, dup


@pytest.fixture(scope="module")
def cc_tags(cc_texts) -> list[dict]:
    return [rules.tags_of(text) for text in cc_texts]


def test_ngram_counts_equal_their_plain_definition_on_real_documents(cc_texts):
    for text in cc_texts[:200]:
        tokens = rules.words(text)
        assert rules.ngram_char_counts(tokens) == plain_ngram_counts(tokens)


def keeps(tags: list[dict], cfg: RulesConfig) -> int:
    return sum(rules.first_failure(t, cfg) is None for t in tags)


def test_keep_counts_on_697_common_crawl_documents(cc_tags):
    # dolma's CC-MAIN-2019-30 subset, all languages, 27 texts empty. datatrove 0.10.1 keeps
    # 154, 505 and 361; our decision equals its own on 689, 677 and 696 of the 697.
    assert (keeps(cc_tags, QUALITY), keeps(cc_tags, REPETITION), keeps(cc_tags, C4)) == (148, 495, 360)
    assert keeps(cc_tags, ALL) == 107
    reasons = Counter(rules.first_failure(t, ALL)[0] for t in cc_tags if rules.first_failure(t, ALL))
    assert reasons == {"gopher_quality": 549, "gopher_repetition": 11, "c4": 30}


def test_reference_text_passes_gopher_quality_far_more_often_than_raw_crawl(cc_tags):
    articles = references.load_mediawiki_xml(str(shared_file(WIKIPEDIA)), "wikipedia")
    wiki = [rules.tags_of(d.text) for d in itertools.islice(articles, 40)]  # parsing wikitext is slow
    assert keeps(wiki, QUALITY) == 33  # of 40 articles: 82%
    assert keeps(cc_tags, QUALITY) < 0.25 * len(cc_tags)  # 148 of 697 crawl pages: 21%


def test_decisions_agree_with_datatrove_on_real_documents(cc_texts, cc_tags):
    """Skipped unless datatrove (and spaCy, its English word splitter) is installed."""
    pytest.importorskip("spacy")
    filters = pytest.importorskip("datatrove.pipeline.filters")
    from datatrove.data import Document

    families = {"gopher_quality": (filters.GopherQualityFilter(), QUALITY),
                "gopher_repetition": (filters.GopherRepetitionFilter(), REPETITION),
                "c4": (filters.C4QualityFilter(), C4)}
    for family, (reference, cfg) in families.items():
        same = sum((reference.filter(Document(text=text, id=str(i))) is True) == (rules.first_failure(t, cfg) is None)
                   for i, (text, t) in enumerate(zip(cc_texts, cc_tags)))
        # Measured: 689, 677 and 696 of 697; the rest are word-split differences on
        # non-English pages, LaTeX and HTML source, and spaCy's sentence ends.
        assert same >= 0.96 * len(cc_texts), family
