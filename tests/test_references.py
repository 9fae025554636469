"""Reference-corpus loaders: tiny literal inputs for each cleaning rule, then exact counts
on the real files in shared/data (WebText, enwiki XML, WikiText-2, Gutenberg books, dolma,
DCLM and OSCAR Common Crawl text)."""
from __future__ import annotations

import bz2
import collections
import gzip
import hashlib
import json
import re

import pytest

from corpus_pipeline import references as refs
from corpus_pipeline.references import RefDoc

from .conftest import shared_file

WEBTEXT = "positives/webtext/webtext.valid.trunc63tok.jsonl"
ENWIKI = "positives/wikipedia/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
WIKITEXT = "positives/wikipedia/wikitext-2_valid.tokens.txt"
BOOKS = "positives/books"
DOLMA = "cc_text/dolma_CC-MAIN-20190717121559-20190717143559-00140_ccby-subset.jsonl.gz"
DOLMA_HEAD = "cc_text/dolma-cc_en_head/cc_en_head-0091.jsonl"
DCLM = "cc_text/dclm-human-quality"
OSCAR = "cc_text/oscar2019-hf-dummy"

MARKUP = ("{{", "}}", "[[", "]]", "'''", "''", "<ref", "{|", "|}", "thumb|", "Category:", "File:")
PG_BOILERPLATE = ("project gutenberg", "*** start of", "*** end of", "end of the project gutenberg",
                  "gutenberg.org/license")
PG_CREDITS = re.compile(r"^Produced by|\be-?texts?\b|transcriber['’]?s note", re.I | re.M)


def assert_ids_unique_and_stable(load, *args, **kwargs) -> list[RefDoc]:
    first = list(load(*args, **kwargs))
    assert len({d.id for d in first}) == len(first)
    assert [d.id for d in load(*args, **kwargs)] == [d.id for d in first]
    return first


# ---------------------------------------------------------------- literal inputs


def test_doc_id_is_blake2b_of_source_and_key():
    assert refs.doc_id("webtext", 3) == hashlib.blake2b(b"webtext:3", digest_size=12).hexdigest()
    assert len(refs.doc_id("books", "a.txt#0")) == 24


def test_jsonl_detects_gzip_by_magic_and_keys_by_line(tmp_path):
    lines = [{"text": "First doc.\n\n\nSecond paragraph.  "}, {"text": ""}, {"text": "   "}, {"other": 1},
             {"text": "Third."}]
    body = "\n".join(json.dumps(x) for x in lines[:2]) + "\n\n" + "\n".join(json.dumps(x) for x in lines[2:])
    plain, packed = tmp_path / "a.jsonl", tmp_path / "b.jsonl"  # no .gz suffix on purpose
    plain.write_text(body)
    packed.write_bytes(gzip.compress(body.encode()))
    for path in (plain, packed):
        docs = list(refs.load_jsonl(str(path), "t"))
        assert [d.text for d in docs] == ["First doc.\nSecond paragraph.", "Third."]
        assert [d.id for d in docs] == [refs.doc_id("t", 1), refs.doc_id("t", 6)]  # line 3 is blank


def test_labelled_jsonl_yields_int_labels(tmp_path):
    path = tmp_path / "l.jsonl"
    path.write_text('{"text": "good page", "label": 1}\n{"text": "spam", "label": 0}\n')
    assert [(d.text, y) for d, y in refs.load_labelled_jsonl(str(path))] == [("good page", 1), ("spam", 0)]


def test_wikitext_markup_is_stripped():
    wikitext = (
        "{{Infobox person|name=X}}'''Ada''' was a [[mathematician|mathematical]] writer"
        "<ref name=a>{{cite book|title=T}}</ref> from [[London]].<ref name=a/> "
        "[[File:Ada.jpg|thumb|Portrait with [[link]]]]\n"
        "{| class=\"wikitable\"\n|-\n| cell || cell\n|}\n"
        "== Work ==\nShe wrote ''notes'' on the engine (&nbsp;{{IPA|x}}).<!-- hidden -->\n"
        "[[Category:Mathematicians]]\n[[de:Ada Lovelace]]\n__NOTOC__\n"
        "== See also ==\n* [[Babbage]]\n== References ==\n{{reflist}}\n")
    assert refs.wikitext_to_text(wikitext) == (
        "Ada was a mathematical writer from London.\nWork\nShe wrote notes on the engine.")


def test_unbalanced_quotes_do_not_leave_links_or_tables_unparsed():
    # A real enwiki page ("Ambiguity") has ''' opened and '' closed inside a file caption.
    wikitext = ("[[File:A.svg|thumb|Caption:<br /> '''Pepe vio a Pablo''<br />more]]\n"
                "The lexical ambiguity of a word.\n{| class=x\n| a || b\n|}\nEnd.")
    assert refs.wikitext_to_text(wikitext) == "The lexical ambiguity of a word.\nEnd."


def _export(pages: str) -> bytes:
    return (f'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10">'
            f"<siteinfo><sitename>W</sitename></siteinfo>{pages}</mediawiki>").encode()


def _page(title: str, page_id: int, text: str, ns: int = 0, redirect: bool = False) -> str:
    tag = f'<redirect title="{title}x" />' if redirect else ""
    return (f"<page><title>{title}</title><ns>{ns}</ns><id>{page_id}</id>{tag}"
            f"<revision><id>9</id><text xml:space=\"preserve\">{text}</text></revision></page>")


def test_mediawiki_xml_keeps_long_articles_only(tmp_path):
    long_text = "Lorem ipsum dolor sit amet. " * 10
    pages = "".join([
        _page("Kept", 1, long_text),
        _page("Redirect element", 2, long_text, redirect=True),
        _page("Redirect text", 3, "#redirect [[Kept]] " + long_text),
        _page("Talk:Kept", 4, long_text, ns=1),
        _page("Short", 5, "Too short."),
    ])
    path = tmp_path / "dump.xml.bz2"
    path.write_bytes(bz2.compress(_export(pages)))
    docs = list(refs.load_mediawiki_xml(str(path), "wiki"))
    assert [(d.id, d.text) for d in docs] == [(refs.doc_id("wiki", "1"), long_text.strip())]


@pytest.mark.parametrize("tokens, text", [
    (" 3 @.@ 1 – 3 @.@ 3 in ( 24 @,@ 000 ft ) ", "3.1 – 3.3 in (24,000 ft)"),
    (" a red @-@ tipped claw , isn 't it ? he 's ; they 're ", "a red-tipped claw, isn't it? he's; they're"),
    (" the \" cutter \" , and the \" <unk> \" , ok . ", 'the "cutter", and the, ok.'),
    (" a <unk> lobster ( <unk> ) from the <unk> . ", "a lobster from the."),
    (" ( <unk> , <unk> ) is a ninja ", "is a ninja"),
    (' " a " " b " ', '"a" "b"'),
    (' an odd " quote , here ', 'an odd " quote, here'),
    (" costs $ 5 , or 10 % ! ", "costs $5, or 10%!"),
])
def test_detokenize_wikitext(tokens, text):
    assert refs.detokenize_wikitext(tokens) == text


def test_wikitext_articles_split_at_top_level_headings_only():
    lines = [" \n", " = Lobster = \n", " \n", " Text one . \n", " = = Biology = = \n", " More . \n",
             " = = = Eggs = = = \n", " = <unk> River = \n", " Flows . \n"]
    assert list(refs.wikitext_articles(lines)) == [
        ("Lobster", [" ", " Text one . ", "Biology", " More . ", "Eggs"]),
        ("<unk> River", [" Flows . "]),
    ]


MODERN_PG = """\ufeffThe Project Gutenberg EBook of A Book, by Someone\r
\r
This eBook is for the use of anyone anywhere at no cost.\r
\r
*** START OF THIS PROJECT GUTENBERG EBOOK A BOOK ***\r
\r
Produced by Some Volunteer\r
\r
A BOOK\r
\r
By Someone\r
\r
CONTENTS\r
\r
Chapter I. The Start of It All, and What Came After It.\r
\r
Chapter 1\r
\r
It was a dark and stormy night; the rain fell in torrents, except at\r
occasional intervals, when it was checked by a violent gust of wind.\r
\r
       *       *       *       *       *\r
\r
She said  _nothing_ at all.\r
\r
End of the Project Gutenberg EBook of A Book, by Someone\r
\r
*** END OF THIS PROJECT GUTENBERG EBOOK A BOOK ***\r
\r
Section 1. General Terms of Use. www.gutenberg.org/license\r
"""

OLD_PG = """The Project Gutenberg Etext of Old Book\r
**Welcome To The World of Free Plain Vanilla Electronic Texts**\r
*END*THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.29.93*END*\r
\r
This old book begins with a paragraph that is long enough to be prose, and it\r
is written mostly in lower case, as books are.\r
\r
End of this Project Gutenberg Etext of Old Book\r
"""


def test_gutenberg_header_footer_credits_and_title_page_are_stripped():
    assert refs.strip_gutenberg(MODERN_PG) == [
        "It was a dark and stormy night; the rain fell in torrents, except at occasional intervals, "
        "when it was checked by a violent gust of wind.",
        "She said nothing at all.",
    ]


def test_gutenberg_older_small_print_variant():
    assert refs.strip_gutenberg(OLD_PG) == [
        "This old book begins with a paragraph that is long enough to be prose, and it is written "
        "mostly in lower case, as books are."]


def test_gutenberg_text_without_markers_is_kept_whole():
    text = "A plain text file that was never a Project Gutenberg e-text, written in plain sentences.\n"
    assert refs.gutenberg_body(text) == text.rstrip("\n")


def test_errata_list_at_the_end_is_cut():
    prose = ["the story goes on and on in lower case words. " * 3] * 20
    errata = ["Typographical errors corrected by the etext transcriber:", "simply way=> simple way {pg 68}"]
    assert refs.drop_meta(prose + errata) == prose


def test_passages_accumulate_to_size_and_merge_a_short_tail():
    paragraphs = ["a" * 40, "b" * 70, "c" * 20, "d" * 100, "e" * 30]
    out = refs.passages(paragraphs, 100)
    assert [len(p) for p in out] == [40 + 1 + 70, 20 + 1 + 100 + 1 + 30]  # "e" * 30 < 50 merged
    assert refs.passages(["x" * 10], 100) == ["x" * 10]


def test_long_paragraphs_are_cut_after_sentences_without_losing_words():
    paragraph = " ".join(f"Sentence number {i} is here." for i in range(200)) + " " + "word " * 500
    pieces = refs.split_long(paragraph, 300)
    assert max(map(len, pieces)) <= 300
    assert " ".join(pieces).split() == paragraph.split()
    assert pieces[0].endswith("is here.")


def test_loaders_registry_names_every_format():
    assert refs.LOADERS == {"jsonl": refs.load_jsonl, "mediawiki_xml": refs.load_mediawiki_xml,
                            "wikitext_tokens": refs.load_wikitext_tokens, "gutenberg": refs.load_gutenberg,
                            "oscar_dummy": refs.load_oscar_dummy, "html": refs.load_html_page}


# ---------------------------------------------------------------- real files


def test_webtext_real_file():
    docs = assert_ids_unique_and_stable(refs.load_jsonl, str(shared_file(WEBTEXT)), "webtext")
    assert len(docs) == 4724
    assert all(d.source == "webtext" and d.text and "\n\n" not in d.text for d in docs)
    assert docs[0].text.startswith("This author has not credited anyone else in this file\nThis is an")


def test_html_pages_give_the_text_ingest_keeps():
    """A saved page, gzip or plain, is one document holding ingest's main text (paragraphs
    one "\\n" apart), keyed by its last three path parts; a page ingest drops gives none."""
    from corpus_pipeline import ingest
    from corpus_pipeline.config import IngestConfig

    pages = sorted(shared_file("web_html/wcxb-dev/html").glob("*.html.gz"))[:200]
    docs = [d for p in pages for d in refs.load_html_page(str(p), "web")]
    assert 150 <= len(docs) < len(pages)  # some pages are too short or not in English
    first = gzip.decompress(pages[0].read_bytes())
    assert docs[0].text == refs.normalize_paragraphs(ingest.html_fields(first, IngestConfig())["text"])
    assert docs[0].id == refs.doc_id("web", "wcxb-dev/html/" + pages[0].name) and "\n\n" not in docs[0].text
    plain = shared_file("web_html/cleaneval/cleaneval-dev/input/60.html")
    assert [d.text for d in refs.load_html_page(str(plain), "web")] == \
        [d.text for d in refs.load_html_page(str(plain).replace("cleaneval-dev", "cleaneval-final"), "web")]


def test_dolma_cc_real_files():
    path = str(shared_file(DOLMA))
    assert sum(1 for _ in refs.iter_json_lines(path)) == 697
    docs = assert_ids_unique_and_stable(refs.load_jsonl, path, "cc")
    assert len(docs) == 670  # 27 of the 697 records have "text": ""
    assert len(list(refs.load_jsonl(str(shared_file(DOLMA_HEAD)), "cc_head"))) == 10


@pytest.mark.parametrize("name, count, zeros", [("majority_data.jsonl", 399, 173), ("agreement_data.jsonl", 224, 103)])
def test_dclm_labelled_real_files(name, count, zeros):
    pairs = list(refs.load_labelled_jsonl(str(shared_file(f"{DCLM}/{name}"))))
    assert len(pairs) == count
    assert collections.Counter(label for _, label in pairs) == {0: zeros, 1: count - zeros}


def test_enwiki_real_dump():
    path = str(shared_file(ENWIKI))
    pages = list(refs.iter_wiki_pages(path))
    assert len(pages) == 206
    assert collections.Counter((p["ns"], p["redirect"]) for p in pages) == {
        ("0", False): 106, ("0", True): 99, ("4", True): 1}
    docs = assert_ids_unique_and_stable(refs.load_mediawiki_xml, path, "wikipedia")
    assert len(docs) == 106  # every non-redirect article has >= 200 characters left
    ids = {d.id for d in docs}
    assert refs.doc_id("wikipedia", "10") not in ids  # AccessibleComputing, a redirect
    assert docs[0].id == refs.doc_id("wikipedia", "12")
    assert docs[0].text.startswith("Anarchism is a political philosophy that advocates self-governed societies")
    for doc in docs:
        assert len(doc.text) >= 200
        assert not doc.text.upper().startswith("#REDIRECT")
        assert not [m for m in MARKUP if m in doc.text], doc.text[:80]
        assert not {"References", "External links", "See also", "Further reading"} & set(doc.text.split("\n"))


def test_wikitext2_real_file():
    docs = assert_ids_unique_and_stable(refs.load_wikitext_tokens, str(shared_file(WIKITEXT)), "wikitext")
    assert len(docs) == 60
    assert docs[0].text.split("\n")[:2] == [
        "Homarus gammarus",
        "Homarus gammarus, known as the European lobster or common lobster, is a species of lobster from the "
        "eastern Atlantic Ocean, Mediterranean Sea and parts of the Black Sea. It is closely related to the "
        "American lobster, H. americanus. It may grow to a length of 60 cm (24 in) and a mass of 6 kilograms "
        "(13 lb), and bears a conspicuous pair of claws. In life, the lobsters are blue, only becoming "
        "\"lobster red\" on cooking. Mating occurs in the summer, producing eggs which are carried by the "
        "females for up to a year before hatching into larvae. Homarus gammarus is a highly esteemed food, "
        "and is widely caught using lobster pots, mostly around the British Isles.",
    ]
    assert "Description" in docs[0].text.split("\n")  # "= = Description = =" became a plain line
    for doc in docs:
        for token in ("@-@", "@,@", "@.@", "<unk>", " ,", " .", " 's", "( ", " )", "  ", "= ="):
            assert token not in doc.text, (token, doc.text[:80])


def test_gutenberg_real_books():
    docs = assert_ids_unique_and_stable(refs.load_gutenberg, str(shared_file(BOOKS)) + "/*.txt", "books")
    assert len(docs) == 3846
    counts = {}
    for path in sorted(shared_file(BOOKS).glob("*.txt")):
        book = list(refs.load_gutenberg(str(path), "books"))
        assert [d.id for d in book] == [refs.doc_id("books", f"{path.name}#{i}") for i in range(len(book))]
        counts[path.name] = len(book)
        assert all(len(d.text) >= 3000 for d in book[:-1]) and len(book[-1].text) >= 1500
        assert all(len(d.text) <= 2.5 * 3000 for d in book)
    assert counts == {
        "pg1342_Pride-and-Prejudice.txt": 204, "pg1400_Great-Expectations.txt": 302,
        "pg145_Middlemarch.txt": 519, "pg1497_The-Republic.txt": 334, "pg158_Emma.txt": 261,
        "pg1661_The-Adventures-of-Sherlock-Holmes.txt": 168, "pg2701_Moby-Dick--Or-The-Whale.txt": 348,
        "pg345_Dracula.txt": 240, "pg4300_Ulysses.txt": 434, "pg76_Adventures-of-Huckleberry-Finn.txt": 169,
        "pg98_A-Tale-of-Two-Cities.txt": 231, "pg996_Don-Quixote.txt": 636,
    }
    for doc in docs:
        assert not [b for b in PG_BOILERPLATE if b in doc.text.lower()], doc.text[:80]
        assert not PG_CREDITS.search(doc.text), doc.text[:80]
        assert "\r" not in doc.text and "\ufeff" not in doc.text and "  " not in doc.text


def test_gutenberg_books_start_with_their_first_sentence():
    first = {path.name: next(refs.load_gutenberg(str(path), "books")).text
             for path in sorted(shared_file(BOOKS).glob("*.txt"))}
    assert first["pg1342_Pride-and-Prejudice.txt"].startswith(
        "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
        "must be in want of a wife.\nHowever little known")
    assert first["pg98_A-Tale-of-Two-Cities.txt"].startswith("It was the best of times, it was the worst of times")
    assert first["pg4300_Ulysses.txt"].startswith("Stately, plump Buck Mulligan came from the stairhead")
    assert first["pg345_Dracula.txt"].startswith("3 May. Bistritz.--Left Munich at 8:35 P. M.")


def test_oscar_dummy_real_archives():
    folder = str(shared_file(OSCAR))
    docs = assert_ids_unique_and_stable(refs.load_oscar_dummy, folder, "oscar")
    assert len(docs) == 257
    english = list(refs.load_oscar_dummy(folder, "oscar", languages=["en"]))
    assert [d.id for d in english] == [refs.doc_id("oscar", "en#0"), refs.doc_id("oscar", "en#1")]
    assert english[0].text.startswith("Mtendere Village was inspired by the vision of Chief Napoleon Dzombe")
    assert len(english[0].text.split("\n")) == 13
    # 133 languages, 2 documents each except 9 whose dummy file holds only one
    langs = collections.Counter(lang for lang, _ in refs.oscar_archives(folder))
    assert len(langs) == 133
    singles = [lang for lang in langs if len(list(refs.load_oscar_dummy(folder, "o", languages=[lang]))) == 1]
    assert sorted(singles) == ["cbk", "ceb", "cv", "ie", "mn", "pam", "sa", "sah", "yo"]
