"""AFB host layer: the host interface, the embedded binder, the libafb adapter."""
