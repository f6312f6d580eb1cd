"""SQLite: the local store, queue and quarantine (one connection helper in `db`)."""
