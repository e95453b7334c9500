"""Configuration: load, validate (JSON Schema + semantic checks), expand, compile.

Entry points: `loader.load_paths` (files -> tuple of model.Api, or ConfigError with
every Problem) and `argv.build_argv` (query args -> argv, per start).

Modules, in load order: `documents` (text -> JSON/YAML document), `validation`
(schema.json, problems with JSON paths), `compiler` (API, verbs, commands) and
`sandboxes` (one sandbox's parts), helped by `variables` ($NAME), `templates`
(%name%/?name?), `names` (capabilities, syscalls, users...), `collector`
(problems of one file). What this host can apply is decided by compiling the sandboxes
(afbspawn.binding.prepare: the one load path of the binder, `check` and `run`).
"""
