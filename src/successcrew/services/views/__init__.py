"""The read models every page, listing, report and Slack message shares: one source per figure."""
