"""The sandbox: one module per kernel concern, and the C launcher behind a Python facade."""
