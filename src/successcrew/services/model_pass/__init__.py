"""What the optional model proposes, waiting for a person: stored, listed, decided, carried out."""
