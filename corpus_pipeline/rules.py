"""Gopher and C4 heuristic rules as per-document tag columns, and the decision select makes.

Consumes a document's text; `tag(text)` produces the values of `TAG_COLUMNS`, which the
tag stage stores for every document whether a rule is on or not. `first_failure(tags,
cfg)` is select's decision: the first enabled rule family a document fails, with a
detail such as "words 34 < 50". Changing a threshold or switching a family on therefore
re-runs select only. GPT-3 used none of these rules, so every family is off by default
(`config.RulesConfig`).

Sources (the thresholds are the defaults of datatrove 0.10.1, FineWeb's implementation):
- Gopher quality and repetition: Rae et al. 2021, "Scaling Language Models: Methods,
  Analysis & Insights from Training Gopher", Appendix A (A.1.1 and Table A1); datatrove's
  `GopherQualityFilter` and `GopherRepetitionFilter`.
- C4: Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified
  Text-to-Text Transformer", section 2.2; TFDS's c4_utils and datatrove's
  `C4QualityFilter` with its defaults (lines split on line breaks, citations removed,
  filter_no_terminal_punct, 3 words a line, no word over 1,000 characters, javascript and
  policy lines removed, lorem ipsum and "{" drop the page, 5 sentences).

What differs from those implementations:
- Words. datatrove splits English with spaCy's tokenizer; here `words()` is one regular
  expression that follows spaCy's main English rules (each punctuation mark its own
  token; clitics such as 's split off; URLs, numbers such as 3,000.50, COVID-19, initials
  and a few dozen abbreviations such as Mr. kept whole; hyphens between letters split),
  so that no dependency is needed. Counts still differ from datatrove's, mostly on
  markup, code and LaTeX, where spaCy keeps runs such as `class="radio` whole, and on
  scripts spaCy's English rules do not know. On the 697 Common Crawl pages of
  tests/test_rules.py the keep/drop decision equals datatrove's on 689 (quality), 677
  (repetition) and 696 (C4).
- Sentences (C4's minimum of 5) are counted by a rule: a run of ".", "!" or "?" followed
  by a space and more words ends a sentence, unless it follows an initial or one of the
  abbreviations; datatrove uses spaCy's sentencizer, TFDS NLTK's punkt.
- C4 rewrites the page: it keeps only the lines that pass its line rules. Here the line
  rules are applied while tagging, only to count what they would keep
  (`c4_kept_lines`, `c4_kept_words`, `c4_kept_sentences`); the text is never rewritten,
  and the C4 family is a document decision: too few sentences left, or "lorem ipsum" or a
  curly bracket on a line the line rules keep. The line-rule constants below are fixed
  at tag time (changing them means re-tagging); the document thresholds are in config.
  C4's bad-words list is not adopted (it needs a downloaded list).
- Gopher repetition compares n-grams as word tuples (datatrove joins the words without a
  separator, so that "ab c" and "a bc" collide there).

Cost: one regex pass for the words, one pass over the lines, and a sort per n-gram length
over the starts still repeated, so linear in the text but for that sort; no rule looks at
a word with a regex of its own: the same order of cost as extracting the page.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from itertools import count, filterfalse, repeat
from operator import methodcaller

import numpy as np

from .config import RulesConfig

# Gopher A.1.1: "the", "be", "to", "of", "and", "that", "have", "with"; matched as written
# (case-sensitive), as datatrove does.
STOP_WORDS = frozenset(("the", "be", "to", "of", "and", "that", "have", "with"))
BULLETS = ("•", "-")  # line starts counted as bullet points (datatrove's two)
ELLIPSES = ("...", "…")
TOP_NGRAMS = (2, 3, 4)  # Gopher Table A1: share of the text in the most frequent n-gram
DUP_NGRAMS = (5, 6, 7, 8, 9, 10)  # ... and in n-grams seen before

# C4 line rules, applied at tag time.
C4_MIN_WORDS_PER_LINE = 3
C4_MAX_WORD_CHARS = 1000
C4_END_MARKS = (".", "?", "!", '"', "'")
C4_POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies",
                     "use of cookies", "use cookies")
_POLICY = re.compile("|".join(C4_POLICY_PHRASES))
_MAY_END_A_SENTENCE = methodcaller("endswith", (*C4_END_MARKS, "]"))

TAG_COLUMNS: tuple[tuple[str, str], ...] = (
    # Gopher quality (A.1.1)
    ("gopher_words", "int"),  # words with a character other than punctuation
    ("gopher_mean_word_length", "double"),  # characters, over those words
    ("gopher_hash_word_ratio", "double"),  # "#" characters per token (token: word or symbol)
    ("gopher_ellipsis_word_ratio", "double"),  # "..." and "…" per token
    ("gopher_bullet_line_ratio", "double"),  # lines starting with a bullet
    ("gopher_ellipsis_line_ratio", "double"),  # lines ending with an ellipsis
    ("gopher_alpha_word_ratio", "double"),  # tokens with an alphabetic character
    ("gopher_stop_words", "int"),  # distinct STOP_WORDS present
    # Gopher repetition (Table A1); fractions of lines, paragraphs, or of the text's
    # characters. The top n-gram's characters count its overlapping occurrences with
    # their spaces, as Gopher and datatrove do, so that ". . . ." can exceed 1.
    ("gopher_dup_line_frac", "double"),
    ("gopher_dup_para_frac", "double"),
    ("gopher_dup_line_char_frac", "double"),
    ("gopher_dup_para_char_frac", "double"),
    *((f"gopher_top_{n}gram_frac", "double") for n in TOP_NGRAMS),
    *((f"gopher_dup_{n}gram_frac", "double") for n in DUP_NGRAMS),
    # C4 (line rules counted, not applied)
    ("c4_lines", "int"),
    ("c4_kept_lines", "int"),
    ("c4_kept_words", "int"),
    ("c4_kept_sentences", "int"),
    ("c4_javascript_lines", "int"),  # lines otherwise kept, removed for "javascript"
    ("c4_policy_lines", "int"),  # ... for a cookie or terms-of-use phrase
    ("c4_lorem_ipsum", "boolean"),  # on a line the rules before it keep
    ("c4_curly_bracket", "boolean"),  # likewise
)
TAG_NAMES = tuple(name for name, _ in TAG_COLUMNS)

# Abbreviations that keep their period, as spaCy's English exceptions do (titles, company
# words, months); they also never end a sentence.
ABBREVIATIONS = frozenset(
    "Mr Mrs Ms Dr Prof Rev Gen Gov Sen Rep Adm St Mt Jr Sr Bros Co Corp Inc Ltd vs "
    "Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec".split())


def _combining_marks() -> str:
    """A regex class body of the combining marks of the Basic Multilingual Plane. Python's
    \\w leaves them out, which would cut Devanagari, Tamil or Burmese words at each vowel
    sign; Unicode word boundaries (UAX #29) keep them inside words."""
    marks = [c for c in range(0x300, 0x10000) if unicodedata.category(chr(c))[0] == "M"]
    runs: list[list[int]] = []
    for c in marks:
        if runs and runs[-1][1] == c - 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return "".join(f"\\u{a:04x}-\\u{b:04x}" for a, b in runs)


def _kept_period() -> str:
    """Look-behinds (one per length) that keep a "." in the word before it: after an
    initial (J.), an inner initial (U.S.A., e.g.) or an abbreviation (Mr.)."""
    by_length: dict[int, list[str]] = {}
    for word in sorted(ABBREVIATIONS):
        by_length.setdefault(len(word), []).append(word)
    abbreviations = "".join(rf"|(?<=\b(?:{'|'.join(words)})\.)" for words in by_length.values())
    return r"(?:\.(?:(?<=\.[^\W\d_]\.)|(?<=(?<![\w.])[^\W\d_]\.)" + abbreviations + "))?"


_W = r"[\w" + _combining_marks() + "]"  # a word character
# spaCy-like English words, in one pass. Alternatives, tried in order at each position:
_TOKEN = re.compile(
    r"https?://\S*\w"  # a URL
    r"|['’](?<=\w['’])\w+"  # a clitic: John|'s, don|'t (spaCy: do|n't, as many words)
    # A word, kept whole across ".", across "," ":" "/" before a digit, across a hyphen
    # from a letter to a digit and across an en dash between digits: 3.5, 3,000, 12:30,
    # 1/2, U.S.A., COVID-19, 1–5; but well-known, 3-4 and a/b are three words each.
    rf"|{_W}+(?:(?:\.|[,:/](?=\d)|(?<=[^\W\d_])-(?=\d)|(?<=\d)–(?=\d)){_W}+)*" + _kept_period() +
    r"|\.\.\.|-{2,}"  # an ellipsis, a dash
    r"|[^\w\s]"  # any other symbol, one a token
)
_HAS_ALPHA = re.compile(r"[^\W\d_]")
_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_LINE_RUNS = re.compile(r"\n+")
_PARAGRAPH_BREAK = re.compile(r"\n{2,}")
_CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")  # Wikipedia-style, as in C4
# A sentence ends at ".", "!" or "?" (not an ellipsis), closing quotes or brackets, then
# spaces and more words on the same line; or at a "." between a lower-case and an
# upper-case letter ("customer.These"), which spaCy splits too. The look-ahead is bounded
# so that a line of ". . . ." costs linear time; each alternative starts with its mark,
# which lets the regex engine skip other characters fast.
_SENTENCE_END = re.compile(r"(?:\.(?<!\.\.)|[!?]+)(?!\.)[\"'’”)\]]*[^\S\n]+(?=[^\w\n]{0,8}\w)|\.(?<=\w\.)(?=\w)")
_LAST_WORD = re.compile(r"\w+$")


def words(text: str) -> list[str]:
    """Gopher's words, split as spaCy's English rules would: words (with their initials,
    inner periods and number punctuation), URLs, clitics, and each other symbol alone."""
    return _TOKEN.findall(text)


def tag(text: str) -> tuple:
    """The values of TAG_COLUMNS for one text, in that order."""
    tokens = words(text)
    lines = text.splitlines()
    return (*quality_tags(text, tokens, lines), *repetition_tags(text, tokens),
            *c4_tags(lines))


def tags_of(text: str) -> dict:
    """{column: value} for one text (as select sees a tagged row)."""
    return dict(zip(TAG_NAMES, tag(text)))


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


class _SymbolChars(dict):
    """{character: whether it is punctuation}, filled as characters are met (datatrove's
    "symbols": ASCII punctuation and Unicode punctuation; control and format characters too)."""

    def __missing__(self, char: str) -> bool:
        symbol = char in _ASCII_PUNCT or unicodedata.category(char)[0] in "PC"
        self[char] = symbol
        return symbol


_SYMBOL_CHAR = _SymbolChars()


def quality_tags(text: str, tokens: list[str], lines: list[str]) -> tuple:
    """(words, mean word length, hash, ellipsis, bullet-line, ellipsis-line and alphabetic
    ratios, stop words): Gopher A.1.1's quality signals."""
    symbols = symbol_chars = alpha = 0
    for token in filterfalse(str.isalpha, tokens):  # most tokens are letters only
        if len(token) == 1:
            if _SYMBOL_CHAR[token]:
                symbols += 1
                symbol_chars += 1
        elif not token.strip("_.-"):  # "...", "--", "___": all punctuation
            symbols += 1
            symbol_chars += len(token)
        elif _HAS_ALPHA.search(token):  # "'s", "COVID-19"; not "3.5"
            alpha += 1
    n = len(tokens)
    kept = n - symbols
    kept_chars = sum(map(len, tokens)) - symbol_chars
    alpha += sum(map(str.isalpha, tokens))
    bullets = sum(map(str.startswith, map(str.lstrip, lines), repeat(BULLETS)))
    trailing = sum(map(str.endswith, map(str.rstrip, lines), repeat(ELLIPSES)))
    ellipses = text.count("...") + text.count("…")
    return (kept, _ratio(kept_chars, kept), _ratio(text.count("#"), n), _ratio(ellipses, n),
            _ratio(bullets, len(lines)), _ratio(trailing, len(lines)), _ratio(alpha, n),
            len(STOP_WORDS.intersection(tokens)))


def _duplicates(items: list[str]) -> tuple[int, int]:
    """(items equal to an earlier one, their characters)."""
    counts = Counter(items)
    chars = sum(len(item) * (count - 1) for item, count in counts.items() if count > 1)
    return len(items) - len(counts), chars


def repetition_tags(text: str, tokens: list[str]) -> tuple:
    """Gopher Table A1's fractions: duplicate lines and paragraphs (of their count and of
    the characters), then the top 2..4-gram and the duplicate 5..10-gram character shares."""
    paragraphs = _PARAGRAPH_BREAK.split(text.strip())
    lines = _LINE_RUNS.split(text)
    dup_paras, dup_para_chars = _duplicates(paragraphs)
    dup_lines, dup_line_chars = _duplicates(lines)
    size = len(text)
    top, dup = ngram_char_counts(tokens)
    return (_ratio(dup_lines, len(lines)), _ratio(dup_paras, len(paragraphs)),
            _ratio(dup_line_chars, size), _ratio(dup_para_chars, size),
            *(_ratio(top[n], size) for n in TOP_NGRAMS), *(_ratio(dup[n], size) for n in DUP_NGRAMS))


SMALL_TEXT_TOKENS = 300  # below, plain Python counts n-grams faster than numpy's fixed costs


def ngram_char_counts(tokens: list[str]) -> tuple[dict[int, int], dict[int, int]]:
    """({n: characters of the most frequent n-gram x its count} for TOP_NGRAMS,
    {n: characters of the n-grams equal to an earlier, non-overlapping one} for DUP_NGRAMS).

    An n-gram can repeat only where its (n-1)-gram prefix repeats, so each n looks only at
    the starts that repeated at n-1. Ties between most frequent n-grams go to the
    earliest, as in datatrove. The most frequent n-gram is counted with the spaces between
    its words (Gopher's "characters"), the repeated ones without (datatrove's join).
    """
    if len(tokens) < SMALL_TEXT_TOKENS:
        return _small_ngram_char_counts(tokens)
    return _numpy_ngram_char_counts(tokens)


def _small_ngram_char_counts(tokens: list[str]) -> tuple[dict[int, int], dict[int, int]]:
    """ngram_char_counts with n-grams as tuples of words."""
    top, dup = dict.fromkeys(TOP_NGRAMS, 0), dict.fromkeys(DUP_NGRAMS, 0)
    counts = Counter(tokens)
    starts = [i for i, token in enumerate(tokens) if counts[token] > 1]
    for n in range(2, DUP_NGRAMS[-1] + 1):
        grams = [tuple(tokens[i:i + n]) for i in starts if i + n <= len(tokens)]
        counts = Counter(grams)
        if n in TOP_NGRAMS and len(tokens) >= n:
            gram, most = max(counts.items(), key=_second) if counts else ((), 1)
            top[n] = (sum(map(len, gram if most > 1 else tokens[:n])) + n - 1) * most
        repeated = [(i, gram) for i, gram in zip(starts, grams) if counts[gram] > 1]
        if n in DUP_NGRAMS:
            dup[n] = _repeated_gram_chars(repeated, n, lambda i: sum(map(len, tokens[i:i + n])))
        if not repeated:  # nor will any longer n-gram: the top ones are the first, once
            for m in TOP_NGRAMS:
                if n < m <= len(tokens):
                    top[m] = sum(map(len, tokens[:m])) + m - 1
            break
        starts = [i for i, _ in repeated]
    return top, dup


def _second(item):
    return item[1]


def _numpy_ngram_char_counts(tokens: list[str]) -> tuple[dict[int, int], dict[int, int]]:
    """ngram_char_counts with each n-gram as an exact integer rank (the rank of its
    (n-1)-gram prefix x the vocabulary size + its last word), counted by sorting."""
    top, dup = dict.fromkeys(TOP_NGRAMS, 0), dict.fromkeys(DUP_NGRAMS, 0)
    vocabulary = dict(zip(dict.fromkeys(tokens), count()))
    ids = np.fromiter(map(vocabulary.__getitem__, tokens), np.int64, len(tokens))
    ends = np.concatenate(([0], np.cumsum(np.fromiter(map(len, tokens), np.int64, len(tokens)))))
    repeated = np.bincount(ids)[ids] > 1
    starts, ranks = np.flatnonzero(repeated), ids[repeated]  # starts (and ranks) of repeated (n-1)-grams
    for n in range(2, DUP_NGRAMS[-1] + 1):
        inside = starts + n <= len(tokens)
        starts = starts[inside]
        if len(starts) == 0:  # nothing repeats: the top n-gram is the first, once
            for m in TOP_NGRAMS:
                if m >= n and len(tokens) >= m:
                    top[m] = int(ends[m] - ends[0]) + m - 1
            break
        first, ranks, counts = _groups(ranks[inside] * len(vocabulary) + ids[starts + n - 1])
        if n in TOP_NGRAMS:
            most = counts.max()
            i = starts[first[counts == most].min()] if most > 1 else 0
            top[n] = (int(ends[i + n] - ends[i]) + n - 1) * int(most)
        repeated = counts[ranks] > 1
        starts, ranks = starts[repeated], ranks[repeated]
        if n in DUP_NGRAMS:
            dup[n] = _repeated_gram_chars(zip(starts.tolist(), ranks.tolist()), n,
                                          lambda i: int(ends[i + n] - ends[i]))
    return top, dup


def _groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(index of each distinct key's first occurrence, rank of each key's group, group sizes):
    np.unique's index, inverse and counts, without its overhead on short arrays."""
    order = keys.argsort(kind="stable")  # stable: a group's first member is its earliest
    ordered = keys[order]
    new = np.empty(len(keys), bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    ranks = np.empty(len(keys), np.int64)
    ranks[order] = np.cumsum(new) - 1
    heads = np.flatnonzero(new)
    return order[heads], ranks, np.diff(heads, append=len(keys))


def _repeated_gram_chars(repeated, n: int, chars_at) -> int:
    """Characters of n-grams seen before, reading left to right and skipping past each
    one (datatrove's rule), given the (start, n-gram) pairs of the repeated n-grams in
    order; `chars_at(start)` is the characters of the n-gram there."""
    seen, chars, free_from = set(), 0, 0
    for i, gram in repeated:
        if i < free_from:
            continue
        if gram in seen:
            chars += chars_at(i)
            free_from = i + n
        else:
            seen.add(gram)
    return chars


def _sentences(kept_lines: list[str]) -> int:
    """Sentences on the kept lines: one a line, plus one for each end inside a line."""
    text = "\n".join(kept_lines)
    return len(kept_lines) + sum(map(_ends_sentence, _SENTENCE_END.finditer(text), repeat(text)))


def _ends_sentence(match: re.Match, text: str) -> bool:
    at = match.start()
    if match.end() == at + 1 and text[at] == ".":  # a "." inside a word: "customer.These"
        return text[at - 1].islower() and text[at + 1].isupper()
    return text[at] != "." or not _abbreviation(text, at)


def _abbreviation(text: str, dot: int) -> bool:
    """Whether the word before text[dot] is an initial or a common abbreviation (J. Doe)."""
    word = _LAST_WORD.search(text, max(0, dot - 7), dot)
    word = word.group() if word else ""
    return len(word) == 1 and word.isalpha() or word in ABBREVIATIONS


def c4_tags(lines: list[str]) -> tuple:
    """(lines, kept lines, kept words, kept sentences, javascript lines, policy lines,
    lorem ipsum, curly bracket) under C4's line rules, in datatrove's order."""
    kept, kept_words, javascript, policy = [], 0, 0, 0
    lorem = curly = False
    # Each check removes the line, the cheap ones first; most lines fail the first, on the
    # end mark, which a citation removed from the end can change ("end.[1]").
    for line in filter(_MAY_END_A_SENTENCE, map(str.strip, lines)):
        cleaned = _CITATION.sub("", line) if "[" in line else line
        if not cleaned.endswith(C4_END_MARKS) or cleaned.endswith("..."):
            continue
        line_words = line.split()  # before citations are removed, as datatrove counts them
        if len(line_words) < C4_MIN_WORDS_PER_LINE or (
                len(line) > C4_MAX_WORD_CHARS and max(map(len, line_words)) > C4_MAX_WORD_CHARS):
            continue
        lower = cleaned.lower()
        if "lorem ipsum" in lower:
            lorem = True  # C4 drops the page here; counting on keeps the other tags whole
            continue
        if "javascript" in lower:
            javascript += 1
            continue
        if "{" in cleaned:
            curly = True
            continue
        if _POLICY.search(lower):
            policy += 1
            continue
        kept.append(cleaned)
        kept_words += len(line_words)
    return len(lines), len(kept), kept_words, _sentences(kept), javascript, policy, lorem, curly


def first_failure(tags: dict, cfg: RulesConfig) -> tuple[str, str] | None:
    """(reason, detail) of the first enabled rule family a tagged document fails, in the
    order gopher_quality, gopher_repetition, c4; None when it passes them all."""
    for reason, enabled, check in (("gopher_quality", cfg.gopher_quality, gopher_quality_failure),
                                   ("gopher_repetition", cfg.gopher_repetition, gopher_repetition_failure),
                                   ("c4", cfg.c4, c4_failure)):
        detail = check(tags, cfg) if enabled else None
        if detail is not None:
            return reason, detail
    return None


def _first(checks) -> str | None:
    """The detail of the first failing (failed, label, value, sign, bound) check."""
    for failed, label, value, sign, bound in checks:
        if failed:
            shown = f"{value:.3g}" if isinstance(value, float) else value
            return f"{label} {shown} {sign} {bound}"
    return None


def gopher_quality_failure(t: dict, cfg: RulesConfig) -> str | None:
    """Detail of the first Gopher quality rule the tags fail (datatrove's order), or None."""
    mean = t["gopher_mean_word_length"]
    return _first((
        (t["gopher_words"] < cfg.gopher_min_words, "words", t["gopher_words"], "<", cfg.gopher_min_words),
        (t["gopher_words"] > cfg.gopher_max_words, "words", t["gopher_words"], ">", cfg.gopher_max_words),
        (mean < cfg.gopher_min_mean_word_length, "mean word length", mean, "<", cfg.gopher_min_mean_word_length),
        (mean > cfg.gopher_max_mean_word_length, "mean word length", mean, ">", cfg.gopher_max_mean_word_length),
        *((t[col] > cfg.gopher_max_symbol_word_ratio, label, t[col], ">", cfg.gopher_max_symbol_word_ratio)
          for col, label in (("gopher_hash_word_ratio", "hashes per word"),
                             ("gopher_ellipsis_word_ratio", "ellipses per word"))),
        (t["gopher_bullet_line_ratio"] > cfg.gopher_max_bullet_line_ratio, "bullet lines",
         t["gopher_bullet_line_ratio"], ">", cfg.gopher_max_bullet_line_ratio),
        (t["gopher_ellipsis_line_ratio"] > cfg.gopher_max_ellipsis_line_ratio, "ellipsis lines",
         t["gopher_ellipsis_line_ratio"], ">", cfg.gopher_max_ellipsis_line_ratio),
        (t["gopher_alpha_word_ratio"] < cfg.gopher_min_alpha_word_ratio, "alphabetic words",
         t["gopher_alpha_word_ratio"], "<", cfg.gopher_min_alpha_word_ratio),
        (t["gopher_stop_words"] < cfg.gopher_min_stop_words, "stop words", t["gopher_stop_words"], "<",
         cfg.gopher_min_stop_words),
    ))


def gopher_repetition_failure(t: dict, cfg: RulesConfig) -> str | None:
    """Detail of the first Gopher repetition rule the tags fail (datatrove's order), or None."""
    if t["c4_lines"] == 0:  # only "" has no line; datatrove drops it here
        return "empty text"
    bounds = (("gopher_dup_para_frac", "duplicate paragraphs", cfg.gopher_max_dup_para_frac),
              ("gopher_dup_para_char_frac", "duplicate paragraph chars", cfg.gopher_max_dup_para_char_frac),
              ("gopher_dup_line_frac", "duplicate lines", cfg.gopher_max_dup_line_frac),
              ("gopher_dup_line_char_frac", "duplicate line chars", cfg.gopher_max_dup_line_char_frac),
              *((f"gopher_top_{n}gram_frac", f"top {n}-gram chars", getattr(cfg, f"gopher_max_top_{n}gram_frac"))
                for n in TOP_NGRAMS),
              *((f"gopher_dup_{n}gram_frac", f"duplicate {n}-gram chars", getattr(cfg, f"gopher_max_dup_{n}gram_frac"))
                for n in DUP_NGRAMS))
    return _first((t[col] > bound, label, t[col], ">", bound) for col, label, bound in bounds)


def c4_failure(t: dict, cfg: RulesConfig) -> str | None:
    """Detail of the first C4 document rule the tags fail (datatrove's order), or None."""
    return _first((
        (cfg.c4_drop_lorem_ipsum and t["c4_lorem_ipsum"], "lorem ipsum", "present", "on", "a kept line"),
        (cfg.c4_drop_curly_bracket and t["c4_curly_bracket"], "curly bracket", "present", "on", "a kept line"),
        (t["c4_kept_sentences"] < cfg.c4_min_sentences, "sentences on kept lines", t["c4_kept_sentences"], "<",
         cfg.c4_min_sentences),
    ))
