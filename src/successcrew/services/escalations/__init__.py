"""Chairman escalations: raise, remind, expire, decide, carry out."""
