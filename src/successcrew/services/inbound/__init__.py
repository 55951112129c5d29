"""What arrives from outside (provider webhooks, product events, Slack clicks,
unsubscribes), already verified by the web layer."""
