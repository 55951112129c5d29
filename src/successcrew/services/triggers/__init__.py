"""RETENTION-001..004 evaluated against the database, the rollback rules, alerts to the team."""
