"""Tokenize and pack without Spark: the rules on literal streams, then real text from shared/data."""
import hashlib
import json

import numpy as np
import pytest

from corpus_pipeline import config, gpt2, pack

from .conftest import shared_file

EOT = gpt2.EOT
DOCS = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 10]]  # stream: 1 2 3 E 4 5 E 6 7 8 9 10 E (13 tokens)


def rows_of(docs, **kw) -> list[list[int]]:
    return [row for shard in pack.pack_stream(pack.stream_of(docs), **kw) for row in shard.tolist()]


# --- The rules on literal streams ------------------------------------------------------

def test_rows_are_the_stream_cut_every_seq_len_with_eot_after_each_document():
    assert rows_of(DOCS, seq_len=4) == [[1, 2, 3, EOT], [4, 5, EOT, 6], [7, 8, 9, 10]]


def test_drop_tail_loses_less_than_a_row_and_counts_it():
    plan = pack.Plan(4, False, 100, "drop", 13)
    assert (plan.rows, plan.tail_tokens, plan.dropped_tokens, plan.pad_tokens) == (3, 1, 1, 0)


def test_pad_tail_becomes_one_more_row_filled_with_eot():
    assert rows_of(DOCS + [[11]], seq_len=4, tail="pad")[-1] == [EOT, 11, EOT, EOT]
    plan = pack.Plan(4, False, 100, "pad", 16)  # no tail: nothing to pad
    assert (plan.rows, plan.tail_tokens, plan.dropped_tokens, plan.pad_tokens) == (4, 0, 0, 0)
    plan = pack.Plan(4, False, 100, "pad", 14)
    assert (plan.rows, plan.tail_tokens, plan.pad_tokens) == (4, 2, 2)


def test_with_target_rows_are_seq_len_plus_one_and_share_one_token():
    assert rows_of(DOCS, seq_len=4, with_target=True) == [[1, 2, 3, EOT, 4], [4, 5, EOT, 6, 7], [7, 8, 9, 10, EOT]]
    assert pack.Plan(4, True, 100, "drop", 13).tail_tokens == 0
    padded = rows_of(DOCS + [[11]], seq_len=4, with_target=True, tail="pad")
    assert padded[-1] == [EOT, 11, EOT, EOT, EOT]  # the shared EOT, the tail, then padding


def test_a_stream_shorter_than_a_row():
    assert rows_of([[1, 2]], seq_len=4) == []
    assert pack.Plan(4, False, 10, "drop", 3).dropped_tokens == 3
    assert rows_of([[1, 2]], seq_len=4, tail="pad") == [[1, 2, EOT, EOT]]
    assert pack.Plan(4, False, 10, "pad", 0).shards == 0


@pytest.mark.parametrize("with_target", [False, True])
@pytest.mark.parametrize("tail", ["drop", "pad"])
def test_sharding_never_changes_the_rows(cc_stream, with_target, tail):
    whole = np.concatenate(pack.pack_stream(cc_stream, 2048, with_target, tail))
    for rows_per_shard in (1, 7, 64):
        shards = pack.pack_stream(cc_stream, 2048, with_target, tail, rows_per_shard)
        assert all(len(s) == rows_per_shard for s in shards[:-1])
        assert np.array_equal(np.concatenate(shards), whole)


def test_rows_hold_the_whole_stream_in_order(cc_stream):
    rows = np.concatenate(pack.pack_stream(cc_stream, 2048, True, "drop", 64))
    assert (rows[:-1, -1] == rows[1:, 0]).all()  # the shared target token
    plan = pack.Plan(2048, True, 64, "drop", len(cc_stream))
    kept = np.concatenate([rows[:, :2048].ravel(), rows[-1, 2048:]])
    assert np.array_equal(kept, cc_stream[:plan.used_tokens])


def test_join_chunks_requires_an_exact_tiling():
    piece = lambda *ids: np.array(ids, pack.DTYPE).tobytes()  # noqa: E731
    assert pack.join_chunks([(2, piece(3)), (0, piece(1, 2))], 3).tolist() == [1, 2, 3]
    with pytest.raises(RuntimeError, match="broken"):
        pack.join_chunks([(0, piece(1)), (2, piece(3))], 3)
    with pytest.raises(RuntimeError, match="expected 4"):
        pack.join_chunks([(0, piece(1, 2, 3))], 4)


def test_fingerprint_follows_text_and_order():
    def xor(texts):
        value = 0
        for i, text in enumerate(texts):
            value ^= pack.document_hash(i, pack.text_digest(text))
        return value
    assert xor(["a", "b"]) == xor(["a", "b"])
    assert xor(["a", "b"]) != xor(["b", "a"])
    assert xor(["a", "b"]) != xor(["a", "c"])


def test_config_is_validated():
    cfg = config.load(config.PackJobConfig, "conf/pack.yaml", ["input=[x]"])
    assert (cfg.pack.seq_len, cfg.pack.tail, cfg.pack.tokenizer, cfg.pack.format) == (2048, "drop", "gpt2", "shards")
    for bad in ("pack.tail=keep", "pack.format=arrow", "pack.engine=tpu", "pack.seq_len=0", "pack.rows_per_shard=0"):
        with pytest.raises(config.ConfigError):
            config.load(config.PackJobConfig, None, ["input=[x]", bad])


def test_a_config_that_still_sets_the_removed_device_key_is_told_so():
    with pytest.raises(config.ConfigError, match="^config key pack.device was removed: "):
        config.load(config.PackJobConfig, None, ["input=[x]", "pack.device=cuda"])


# --- Real text -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cc_stream(cc_texts):
    return np.concatenate([pack.document_tokens(t) for t in cc_texts if t])


def test_stream_is_gpt2_ids_with_eot_after_each_document(cc_texts, cc_stream):
    texts = [t for t in cc_texts if t]
    assert len(cc_stream) == sum(len(gpt2.encode(t)) + 1 for t in texts) == 1_174_981
    ends = np.flatnonzero(cc_stream == EOT)
    assert len(ends) == len(texts)
    assert gpt2.decode(cc_stream[ends[41] + 1:ends[42]].tolist()) == texts[42]


def test_pack_texts_on_common_crawl(tmp_path, cc_texts):
    meta = pack.pack_texts(cc_texts, tmp_path / "out", rows_per_shard=64)
    assert (meta["documents"], meta["empty_documents"], meta["stream_tokens"]) == (670, 27, 1_174_981)
    # 1,174,981 = 573 x 2048 + 1,477: the tail is dropped, and so are the 3 documents that start in it.
    assert (meta["rows"], meta["tail_tokens"], meta["dropped_tokens"], meta["documents_dropped"]) == (573, 1477, 1477, 3)
    assert [s["rows"] for s in meta["shards"]] == [64] * 8 + [61]
    assert sum(s["documents"] for s in meta["shards"]) + meta["documents_dropped"] == 670
    assert meta["tokenizer"] == {"name": "gpt2", "vocab_size": 50257, "eot": 50256,
                                 "vocabulary_hash": gpt2.vocabulary_hash()}
    for shard in meta["shards"]:
        data = (tmp_path / "out" / shard["file"]).read_bytes()
        assert len(data) == shard["rows"] * 2048 * 2 and hashlib.sha256(data).hexdigest() == shard["sha256"]
        assert np.memmap(tmp_path / "out" / shard["file"], dtype=np.uint16).reshape(-1, 2048).shape == (shard["rows"], 2048)
    assert json.loads((tmp_path / "out" / "metadata.json").read_text()) == meta
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["metadata.json"] + [s["file"] for s in meta["shards"]]


def test_webtext_documents_are_63_tokens_plus_eot(tmp_path):
    lines = shared_file("positives/webtext/webtext.valid.trunc63tok.jsonl").read_text().splitlines()
    meta = pack.pack_texts((json.loads(line)["text"] for line in lines), tmp_path / "out", rows_per_shard=50)
    assert (meta["documents"], meta["stream_tokens"], meta["rows"]) == (4724, 4724 * 64, 147)
    assert [s["starts_mid_document"] for s in meta["shards"]] == [False] * 3  # 32 documents a row exactly


@pytest.mark.parametrize("with_target,tail", [(False, "pad"), (True, "pad"), (True, "drop")])
def test_reader_gives_every_document_back(tmp_path, cc_texts, with_target, tail):
    pack.pack_texts(cc_texts, tmp_path / "out", with_target=with_target, tail=tail, rows_per_shard=64)
    reader = pack.TokenShards(tmp_path / "out")
    docs = list(reader.documents())
    texts = [t for t in cc_texts if t]
    if tail == "pad":
        assert [gpt2.decode(d.tolist()) for _, d, _ in docs] == texts
        assert all(complete for _, _, complete in docs)
    else:  # the dropped tail cut the last kept document
        assert [gpt2.decode(d.tolist()) for _, d, _ in docs[:-1]] == texts[:len(docs) - 1]
        assert not docs[-1][2] and texts[len(docs) - 1].startswith(gpt2.decode(docs[-1][1].tolist()))


def test_row_documents_maps_rows_back_to_documents(tmp_path, cc_texts, cc_stream):
    pack.pack_texts(cc_texts, tmp_path / "out", with_target=True, tail="pad", rows_per_shard=64)
    reader = pack.TokenShards(tmp_path / "out")
    starts = np.concatenate([[0], np.flatnonzero(cc_stream == EOT) + 1])  # document d = [starts[d], starts[d+1])
    for shard, row in [(0, 0), (0, 63), (1, 0), (4, 17), (8, 61)]:
        begin = (shard * 64 + row) * 2048
        end = min(begin + 2049, len(cc_stream))
        expected = list(range(np.searchsorted(starts, begin, "right") - 1, np.searchsorted(starts, end - 1, "right")))
        assert reader.row_documents(shard, row) == expected


def test_pack_texts_with_nothing_to_pack(tmp_path):
    meta = pack.pack_texts(["", ""], tmp_path / "out")
    assert (meta["documents"], meta["empty_documents"], meta["rows"], meta["shards"]) == (0, 2, 0, [])
    assert list(pack.TokenShards(tmp_path / "out").documents()) == []


def test_pack_texts_replaces_only_its_own_output(tmp_path):
    pack.pack_texts(["one", "two"], tmp_path / "out", seq_len=2, tail="pad")
    meta = pack.pack_texts(["three"], tmp_path / "out", seq_len=2, tail="pad")
    assert meta["documents"] == 1 and len(list((tmp_path / "out").glob("shard-*"))) == 1
    (tmp_path / "other").mkdir()
    with pytest.raises(FileExistsError):
        pack.pack_texts(["x"], tmp_path / "other")
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


@pytest.mark.parametrize("with_target", [False, True])
@pytest.mark.parametrize("tokens", [0, 1, 5, 12, 13, 29, 40])
def test_shard_spans_and_touching_shards_agree(tokens, with_target):
    """Brute force on small geometries: shards_touching(t, t+1) is exactly the shards whose
    span holds token t, and the spans of consecutive shards share exactly `overlap` tokens."""
    for tail in ("drop", "pad"):
        plan = pack.Plan(3, with_target, 2, tail, tokens)
        spans = [plan.shard_span(s) for s in range(plan.shards)]
        for t in range(tokens):
            holders = [s for s, (a, b) in enumerate(spans) if a <= t < b]
            assert list(plan.shards_touching(t, t + 1)) == holders
        assert all(b - a2 == plan.overlap for (_, b), (a2, _) in zip(spans, spans[1:]))
        assert sum(plan.shard_rows(s) for s in range(plan.shards)) == plan.rows
