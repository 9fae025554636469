"""The one place that imports pyspark: session, schemas, the ingest job and atomic output."""
