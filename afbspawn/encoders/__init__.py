"""Output encoders: turn a task's stdout/stderr into AFB events or a sync reply."""
