"""Definitions as code: the YAML files under config/, triggers/, agents/ and crews/, loaded and
validated into typed models. A problem names the file and the key (ConfigError, exit 2)."""
