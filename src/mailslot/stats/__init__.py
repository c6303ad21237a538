"""Statistics: aggregates about cases (the ISO 37002 indicators), with small counts hidden."""
