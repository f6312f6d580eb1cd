"""The core: parse, normalize, dedup, hand off, ack. Imports no cloud SDK, no backend and no settings."""
