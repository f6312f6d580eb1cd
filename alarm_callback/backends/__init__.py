"""Backends behind the core ports, one module (or folder) per technology; each imports only its own SDK, lazily, through `registry`."""
