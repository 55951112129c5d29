"""File importers: read CSV or JSON Lines, validate every row, stage, merge in one transaction."""
