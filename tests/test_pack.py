"""Tokenize and pack without Spark: the rules on literal streams, then real text from shared/data."""
import hashlib
import json

import numpy as np
import pytest

from corpus_pipeline import array_bpe, config, gpt2, pack
from corpus_pipeline import tokenizer as tokenizers

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


@pytest.mark.parametrize("options", [{}, {"format": "megatron"}, {"with_target": True, "tail": "pad"}])
def test_the_gpu_engine_on_the_cpu_writes_the_same_bytes(tmp_path, cc_texts, options):
    """pack.engine gpu (array_bpe) run on NumPy: the same shards, datasets and metadata as the cpu engine."""
    cpu = pack.pack_texts(cc_texts, tmp_path / "cpu", rows_per_shard=64, **options)
    gpu = pack.pack_texts(cc_texts, tmp_path / "gpu", rows_per_shard=64, engine="gpu", gpu_device="cpu", **options)
    assert gpu == cpu
    files = sorted(p.name for p in (tmp_path / "cpu").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "gpu").iterdir()) and len(files) > 8
    assert all((tmp_path / "cpu" / f).read_bytes() == (tmp_path / "gpu" / f).read_bytes() for f in files)


def test_the_gpu_engine_is_for_gpt2_and_cuda_needs_a_device(tmp_path, gpt2_tokenizer_json):
    with pytest.raises(config.ConfigError, match="gpu runs GPT-2's BPE only"):
        config.load(config.PackJobConfig, None, ["input=[x]", "pack.engine=gpu", f"pack.tokenizer={gpt2_tokenizer_json}"])
    with pytest.raises(tokenizers.TokenizerError, match="gpu runs GPT-2's BPE only"):
        pack.pack_texts(["x"], tmp_path / "out", tokenizer=str(gpt2_tokenizer_json), engine="gpu")
    if array_bpe.array_module("auto")[1] == "cpu":  # no CUDA device here: asking for one is an error before any write
        with pytest.raises(tokenizers.TokenizerError, match="^pack.gpu_device: cuda: "):
            pack.pack_texts(["x"], tmp_path / "out", engine="gpu", gpu_device="cuda")
        assert not (tmp_path / "out").exists()


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


# --- Megatron-LM indexed datasets ------------------------------------------------------

def read_megatron(prefix) -> list[np.ndarray]:
    """A reader written from Megatron-LM's MMIDIDX format (megatron/core/datasets/
    indexed_dataset.py), sharing nothing with the writer: the sequences of one dataset."""
    import struct

    index = open(f"{prefix}.idx", "rb").read()
    assert index[:9] == b"MMIDIDX\x00\x00" and struct.unpack("<Q", index[9:17]) == (1,)
    dtype = {8: np.uint16, 4: np.int32}[index[17]]
    sequences, documents = struct.unpack("<QQ", index[18:34])
    lengths = np.frombuffer(index, np.int32, sequences, 34)
    pointers = np.frombuffer(index, np.int64, sequences, 34 + lengths.nbytes)
    document_indices = np.frombuffer(index, np.int64, documents, 34 + lengths.nbytes + pointers.nbytes)
    assert len(index) == 34 + lengths.nbytes + pointers.nbytes + document_indices.nbytes
    assert document_indices.tolist() == list(range(sequences + 1))  # one sequence per document
    data = open(f"{prefix}.bin", "rb").read()
    assert len(data) == int(lengths.sum()) * np.dtype(dtype).itemsize
    return [np.frombuffer(data, dtype, int(n), int(p)) for n, p in zip(lengths, pointers)]


def test_megatron_datasets_round_trip_to_tiktoken_ids(tmp_path, cc_texts):
    texts = [t for t in cc_texts if t]
    meta = pack.pack_texts(cc_texts, tmp_path / "out", rows_per_shard=64, format="megatron")
    assert (meta["format"], meta["dtype"], meta["documents"], meta["empty_documents"]) == (
        "megatron-indexed-dataset/1", "uint16", 670, 27)
    sequences = [s for d in meta["datasets"] for s in read_megatron(tmp_path / "out" / d["prefix"])]
    reference = gpt2.encoding()
    assert [s.tolist() for s in sequences] == [reference.encode_ordinary(t) + [EOT] for t in texts]
    assert sum(d["tokens"] for d in meta["datasets"]) == meta["stream_tokens"] == 1_174_981
    # each dataset holds the documents that start in its 64 x 2048 tokens of the stream
    starts = np.cumsum([0] + [len(s) for s in sequences])[:-1]
    for d in meta["datasets"]:
        index = int(d["prefix"].rsplit("-", 1)[1])
        mine = starts[d["first_document"]:d["first_document"] + d["documents"]]
        assert ((mine // (64 * 2048)) == index).all()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        ["metadata.json"] + [d["prefix"] + ext for d in meta["datasets"] for ext in (".bin", ".idx")])


def test_megatron_on_a_document_longer_than_a_dataset_stretch(tmp_path):
    texts = ["short one", "word " * 300, "", "tail"]
    meta = pack.pack_texts(texts, tmp_path / "out", seq_len=16, rows_per_shard=2, format="megatron")
    sequences = [s.tolist() for d in meta["datasets"] for s in read_megatron(tmp_path / "out" / d["prefix"])]
    assert sequences == [gpt2.encode(t) + [EOT] for t in texts if t]
    assert [d["prefix"] for d in meta["datasets"]] == ["megatron-00000", "megatron-00009"]  # none start between


# --- Other vocabularies: a Hugging Face tokenizer.json -----------------------------------

@pytest.fixture(scope="module")
def gpt2_tokenizer_json(tmp_path_factory):
    """GPT-2 as a ByteLevel BPE tokenizer.json built by the tokenizers library from the
    shared copies of OpenAI's vocab.bpe and encoder.json, with <|endoftext|> as its special token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    hf = Tokenizer(models.BPE.from_file(str(shared_file("gpt2_bpe/encoder.json")),
                                        str(shared_file("gpt2_bpe/vocab.bpe"))))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    hf.decoder = decoders.ByteLevel()
    hf.add_special_tokens([gpt2.EOT_TEXT])
    path = tmp_path_factory.mktemp("hf") / "tokenizer.json"
    hf.save(str(path))
    return path, hf


def test_a_tokenizer_json_of_gpt2_writes_the_same_shards(tmp_path, cc_texts, gpt2_tokenizer_json):
    path, _ = gpt2_tokenizer_json
    ours = pack.pack_texts(cc_texts, tmp_path / "gpt2", rows_per_shard=64)
    theirs = pack.pack_texts(cc_texts + ["a literal <|endoftext|> stays text"], tmp_path / "hf",
                             rows_per_shard=64, tokenizer=str(path))
    assert theirs["dtype"] == "uint16"
    assert theirs["tokenizer"] == {"name": str(path), "vocab_size": 50257, "eot": 50256, "eot_token": gpt2.EOT_TEXT,
                                   "vocabulary_hash": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert [s["sha256"] for s in theirs["shards"]] == [s["sha256"] for s in ours["shards"]]
    tail = pack.TokenShards(tmp_path / "hf")
    assert tail.dtype == np.uint16 and next(tail.texts()) == next(t for t in cc_texts if t)


def test_a_vocabulary_over_65536_ids_writes_uint32(tmp_path, cc_texts, gpt2_tokenizer_json):
    _, hf = gpt2_tokenizer_json
    from tokenizers import Tokenizer

    big = Tokenizer.from_str(hf.to_str())
    big.add_tokens([f"<extra_{i}>" for i in range(20_000)])  # ids 50257 .. 70256
    path = tmp_path / "big.json"
    big.save(str(path))
    texts = [t for t in cc_texts if t][:40] + ["ids past 16 bits: <extra_19999> and <extra_15000>."]
    meta = pack.pack_texts(texts, tmp_path / "out", seq_len=512, tail="pad", tokenizer=str(path))
    assert (meta["dtype"], meta["tokenizer"]["vocab_size"]) == ("uint32", 70257)
    shards = pack.TokenShards(tmp_path / "out")
    docs = [d.tolist() for _, d, _ in shards.documents()]
    assert docs[:-1] == [gpt2.encode(t) for t in texts[:-1]]  # the GPT-2 part of the vocabulary is GPT-2's
    assert {70256, 65257} <= set(docs[-1])
    megatron = pack.pack_texts(texts, tmp_path / "meg", tokenizer=str(path), format="megatron")
    assert megatron["dtype"] == "int32"  # Megatron's dtype codes have no uint32
    sequences = read_megatron(tmp_path / "meg" / megatron["datasets"][0]["prefix"])
    assert [s.tolist() for s in sequences] == [d + [EOT] for d in docs]


def test_a_tokenizer_json_is_checked_before_anything_is_written(tmp_path, gpt2_tokenizer_json):
    from corpus_pipeline import tokenizer

    with pytest.raises(tokenizer.TokenizerError, match="is not a file"):
        pack.pack_texts(["x"], tmp_path / "out", tokenizer=str(tmp_path / "missing.json"))
    with pytest.raises(tokenizer.TokenizerError, match="'</s>' is not in the vocabulary"):
        pack.pack_texts(["x"], tmp_path / "out", tokenizer=str(gpt2_tokenizer_json[0]), eot_token="</s>")
    assert not (tmp_path / "out").exists()
