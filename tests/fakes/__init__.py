"""Stand-in provider servers for tests: real HTTP over loopback, answering as the docs say."""
