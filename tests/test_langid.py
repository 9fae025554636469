"""Language ID (corpus_pipeline.langid): the first look at the longest line, and its decisions on
real CC documents. Accuracy and cost figures come from bench/langid_bench.py."""
import json

from corpus_pipeline import langid
from corpus_pipeline.config import IngestConfig

from .conftest import shared_file

ENGLISH = ("The committee met on Tuesday to discuss the budget for the coming year, and after a long "
           "debate it agreed to fund the new library that the town had been asking for. ")


def test_a_clear_first_look_is_the_answer():
    text = ENGLISH * 10
    assert langid.identify(text, 1000) == langid.predict(text[:langid.QUICK_CHARS])
    assert langid.identify(text, 1000)[0] == "en"


def test_the_first_look_is_at_the_longest_line():
    # A byline and a date first, as on news pages: the prose below them is what is read.
    text = "By Ta-Nehisi Coates\nNov 5 2012, 12:19 PM ET\n" + ENGLISH * 3 + "\nShare this"
    assert langid.first_look(text) == (ENGLISH * 3)[:langid.QUICK_CHARS]
    assert langid.identify(text, 1000) == langid.predict(langid.first_look(text))
    assert langid.identify(text, 1000)[0] == "en"


def test_an_unclear_first_look_reads_on_to_max_chars():
    # A first look at digits and punctuation says nothing about the language.
    text = "0123456789 -- // ++ " * 10 + ENGLISH * 5
    assert langid.predict(langid.first_look(text))[1] < langid.QUICK_MIN_SCORE
    assert langid.identify(text, 1000) == langid.predict(text[:1000])
    assert langid.identify(text, 1000)[0] == "en"


def test_short_texts_and_short_limits_are_read_once():
    assert langid.identify(ENGLISH[:150], 1000) == langid.predict(ENGLISH[:150])
    assert langid.identify(ENGLISH * 3, 100) == langid.predict(ENGLISH[:100])


def test_decisions_match_reading_1000_characters_on_real_cc_documents():
    """399 real CC documents (DCLM's human-judged sample): keeping English comes out the same."""
    path = shared_file("cc_text/dclm-human-quality/majority_data.jsonl")
    texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines()]
    cfg = IngestConfig()  # English, probability >= 0.5
    english = [cfg.keeps_language(*langid.identify(t, cfg.lid_max_chars)) for t in texts]
    at_once = [cfg.keeps_language(*langid.predict(t[:cfg.lid_max_chars])) for t in texts]
    assert len(texts) == 399 and english == at_once
    assert 0 < sum(english) < len(texts)
