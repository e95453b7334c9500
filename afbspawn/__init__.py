"""afb-spawn: expose Linux commands safely as AFB APIs."""

__version__ = "0.1.0"
