"""Decontamination without Spark: grams, the Appendix C cut on literal inputs, the benchmark
loaders on the real sets, and whole books with real benchmark passages planted at known places."""
from __future__ import annotations

import json

import numpy as np
import pytest

from corpus_pipeline import config, decontam

from .conftest import REPO, shared_file

RULE = dict(window_chars=200, min_piece_chars=200, max_pieces=10)
MOBY_DICK = "positives/books/pg2701_Moby-Dick--Or-The-Whale.txt"


def benchmark_sources() -> dict[str, config.BenchmarkSource]:
    cfg = config.load(config.DecontamJobConfig, REPO / "conf" / "decontam.yaml", ["input=[x]"])
    return {b.name: b for b in cfg.decontam.benchmarks}


def examples_of(name: str) -> list[decontam.Example]:
    source = benchmark_sources()[name]
    data = shared_file(source.path.removeprefix("../shared/data/")).read_text(encoding="utf-8")
    return list(decontam.load_examples(name, data, source.format, source.text_fields, source.id_field))


def plant(text: str, passages: list[tuple[int, str]], sep: str = "\n\n") -> tuple[str, list[tuple[int, int]]]:
    """Insert each passage at the first whitespace at or after its offset (never inside a
    word), set off by `sep`; return the new text and each passage's span in it."""
    out, spans, last = [], [], 0
    for offset, passage in sorted(passages):
        at = offset
        while not text[at].isspace():
            at += 1
        out.append(text[last:at] + sep)
        start = sum(map(len, out))
        out.append(passage + sep)
        spans.append((start, start + len(passage)))
        last = at
    out.append(text[last:])
    return "".join(out), spans


# ---- grams

def test_a_gram_is_a_lowercase_word_with_its_punctuation_deleted():
    text = "Don't   STOP — “believing”!  Héllo, world..."
    grams, starts, ends = decontam.words(text)
    assert [(g, text[s:e]) for g, s, e in zip(grams, starts, ends)] == [
        ("dont", "Don't"), ("stop", "STOP"), ("believing", "“believing”!"), ("héllo", "Héllo,"),
        ("world", "world...")]  # the lone dash is no gram


def test_gram_hashes_depend_on_the_words_only():
    grams = "the quick brown fox jumps over the lazy dog and then runs far away".split()
    assert len(decontam.gram_hashes(grams, 13)) == 2
    assert len(decontam.gram_hashes(grams[:12], 13)) == 0  # shorter than n: no gram
    a = list(decontam.text_grams("The QUICK brown fox, jumps over the lazy dog and then runs far!", 13))
    b = list(decontam.text_grams("the quick brown fox jumps over the lazy dog and then runs far", 13))
    assert a == b and a[0][1] == " ".join(grams[:13])
    assert len(set(decontam.gram_hashes(grams, 1).tolist())) == len(set(grams))


# ---- the cut, one case per outcome

TEXT = "".join(f"w{i:03d} " for i in range(320))  # 1,600 characters, word i at 5i


def test_no_collision_is_one_untouched_piece():
    assert decontam.cut(TEXT, [], **RULE) == decontam.Cut(TEXT, 1, 1, 0, False, (), ())


def test_a_collision_removes_the_gram_and_200_characters_each_side():
    result = decontam.cut(TEXT, [(700, 764)], **RULE)
    assert result.windows == ((500, 964),) and result.pieces == 2 and not result.contaminated
    assert result.text == TEXT[:500] + "\n\n" + TEXT[964:] and result.chars_removed == 464


def test_pieces_shorter_than_200_characters_are_dropped():
    result = decontam.cut(TEXT, [(350, 360), (1300, 1310)], **RULE)  # pieces 0-150, 560-1100, 1510-1600
    assert result.pieces == 3 and result.kept_pieces == 1 and result.short_pieces == ((0, 150), (1510, 1600))
    assert result.text == TEXT[560:1100] and result.chars_removed == 1600 - 540


def test_overlapping_windows_merge_and_the_window_stops_at_the_ends():
    result = decontam.cut(TEXT, [(100, 150), (300, 350), (1550, 1590)], **RULE)
    assert result.windows == ((0, 550), (1350, 1600)) and result.text == TEXT[550:1350] and result.pieces == 1


def test_more_than_ten_pieces_is_contaminated():
    ten_cuts = [(500 + 600 * i, 510 + 600 * i) for i in range(10)]  # 11 pieces of 190..500 chars
    long_text = TEXT * 5
    result = decontam.cut(long_text, ten_cuts, **RULE)
    assert result.pieces == 11 and result.contaminated and result.text == "" and result.chars_removed == len(long_text)
    assert not decontam.cut(long_text, ten_cuts[:9], **RULE).contaminated  # 10 pieces: modified


def test_nothing_left_is_contaminated():
    assert decontam.cut(TEXT, [(700, 764)], window_chars=800, min_piece_chars=200, max_pieces=10).contaminated


def test_a_hash_match_with_another_gram_string_cuts_nothing():
    text = "the quick brown fox jumps over the lazy dog and then runs far away " * 10
    (h, gram), *_ = decontam.text_grams(text, 13)
    assert decontam.decontaminate_text(text, {h: "a different gram"}).chars_removed == 0
    assert decontam.decontaminate_text(text, {h: gram}).contaminated  # every piece is short


# ---- loaders on the real sets

# Distinct 13-grams per set, from shared/data/benchmarks/README.md (its reference run).
README_GRAMS = {"lambada": 242_273, "boolq": 232_242, "storycloze_test": 69_605, "storycloze_val": 69_561,
                "piqa": 24_298, "multirc": 22_724, "winogrande": 13_355, "arc_easy": 4_926,
                "arc_challenge": 3_527, "openbookqa": 1_011, "nq_open": 433, "copa": 0}
EXAMPLES = {"lambada": 5153, "boolq": 3270, "storycloze_test": 1871, "storycloze_val": 1871, "piqa": 1838,
            "multirc": 83, "winogrande": 1267, "arc_easy": 570, "arc_challenge": 299, "openbookqa": 500,
            "nq_open": 3610, "copa": 100}


@pytest.mark.parametrize("name", sorted(README_GRAMS))
def test_each_benchmark_loads_its_examples_and_the_readme_gram_count(name):
    examples = examples_of(name)
    grams = set()
    for example in examples:
        grams.update(decontam.example_grams(example, 13).items())
    assert len(examples) == EXAMPLES[name] and len(grams) == README_GRAMS[name]


def test_field_specs_fill_blanks_join_sentences_and_walk_lists():
    wino = examples_of("winogrande")[0]
    assert wino.units == ("Sarah was a much better surgeon than Maria so Sarah always got the easier cases.",
                          "Sarah was a much better surgeon than Maria so Maria always got the easier cases.")
    story = examples_of("storycloze_val")[0]
    assert story.example == "138d5bfb-05cc-41e3-bf2c-fa85ebad14e2" and story.units[0].endswith(
        "The incident caused him to turn a new leaf. He is happy now.") and story.units[1].endswith("He joined a gang.")
    arc = examples_of("arc_easy")[0]
    assert arc.units == ("Which technology was developed most recently?", "cellular telephone", "television",
                         "refrigerator", "airplane")
    multirc = examples_of("multirc")[0]
    record = json.loads(shared_file("benchmarks/multirc/val.jsonl").read_text().splitlines()[0])
    answers = sum(len(q["answers"]) for q in record["passage"]["questions"])
    assert len(multirc.units) == 1 + len(record["passage"]["questions"]) + answers


def test_copa_and_most_of_nq_are_too_short_for_13_grams():
    assert all(not decontam.example_grams(e, 13) for e in examples_of("copa"))
    assert sum(not decontam.example_grams(e, 13) for e in examples_of("nq_open")) == 3412


# ---- whole books with planted passages

@pytest.fixture(scope="module")
def book() -> str:
    return shared_file(MOBY_DICK).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def lambada() -> list[decontam.Example]:
    return examples_of("lambada")


def table_of(examples) -> dict[int, str]:
    table = {}
    for example in examples:
        table.update(decontam.example_grams(example, 13))
    return table


def test_a_whole_book_loses_exactly_the_planted_passages_and_their_windows(book, lambada):
    boolq = examples_of("boolq")
    passages = [(300_000, lambada[0].units[0]), (900_000, boolq[2].units[0])]
    text, spans = plant(book, passages)
    result = decontam.decontaminate_text(text, table_of(lambada + boolq[:10]))
    (s1, e1), (s2, e2) = spans
    assert result.windows == ((s1 - 200, e1 + 200), (s2 - 200, e2 + 200)) and result.pieces == 3
    assert result.text == "\n\n".join([text[:s1 - 200], text[e1 + 200:s2 - 200], text[e2 + 200:]])
    assert result.chars_removed == (e1 - s1) + (e2 - s2) + 800
    assert len(book) < len(result.text) + 800  # the rest of the book is all there


def test_a_book_split_into_eleven_pieces_is_contaminated(book, lambada):
    table = table_of(lambada[:20])
    nine = [(100_000 * (i + 1), lambada[i].units[0]) for i in range(9)]
    assert decontam.decontaminate_text(plant(book, nine)[0], table).pieces == 10  # modified
    ten = nine + [(1_000_000, lambada[9].units[0])]
    result = decontam.decontaminate_text(plant(book, ten)[0], table)
    assert result.pieces == 11 and result.contaminated


def test_an_unplanted_book_has_no_lambada_overlap(book, lambada):
    """The shared data's reference run: no LAMBADA 13-gram occurs in the Gutenberg books."""
    table = table_of(lambada)
    assert decontam.colliding_grams(book, 13, np.array(sorted(table), dtype=np.int64)) == []
