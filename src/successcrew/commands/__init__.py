"""Command groups of the ``successcrew`` CLI; each module exposes ``register(app)``."""
