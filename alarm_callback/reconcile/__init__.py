"""The alarm-history reconciler: records -> alarms (`records`), the run (`run`), its report (`report`)."""
