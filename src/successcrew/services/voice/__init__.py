"""The customer's voice: NPS survey waves, comment sentiment and categories, the insights report."""
