"""Configuration: load, validate (JSON Schema + semantic checks), expand, compile."""
