"""Redis: the store and the quarantine for Tencent SCF (which has no lasting disk)."""
