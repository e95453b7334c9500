"""The spawn binding: APIs and verbs built from the compiled config, on any host."""
