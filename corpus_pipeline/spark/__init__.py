"""The one place that imports pyspark.

The filter's stages in flow order: ingest.py -> tag.py -> select.py -> dedup.py -> lines.py
-> decontam.py, run by filter.py over the stage store (shards.py: per input file;
stages.py: per corpus stage); then mix.py and pack.py. Also: the session, atomic output,
the progress line, and classifier training (quality.py).
"""
