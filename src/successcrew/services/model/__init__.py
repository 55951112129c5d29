"""The optional model's seat (a protocol and a registry) and its records (cache,
usage): a leaf every capability may use."""
