"""Sample raw data that follows the raw-source contract (docs/raw_sources.md), with its ground truth."""
