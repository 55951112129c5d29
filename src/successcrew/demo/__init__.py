"""The synthetic history and ``successcrew demo``: a seeded year of customer data, imported
through the real importer, then the crew run for simulated days."""
