"""The libafb host: afb-spawn's APIs inside the real AFB framework through afb-libpython."""
