"""Health scoring runs, model changes, the backtest, manual overrides."""
