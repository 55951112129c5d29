"""Retention programs: enrolment, due steps, results (feedback, auto-pause, A/B against holdout)."""
