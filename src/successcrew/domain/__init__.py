"""Pure logic: no database, no HTTP, no clock reads. Inputs in, decisions out."""
