"""What every message needs: signed links in e-mails, dead letters retried by hand."""
