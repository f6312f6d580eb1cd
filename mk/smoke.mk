# Smoke test of a running callback (local or deployed). Included by the Makefile.
#
#   make smoke URL=...  - post every seed sample (alarm_callback/samples) to URL with Tencent's
#                         retry semantics (5 s ack timeout, 3 resends); fails unless all were acked
SMOKE_PREREQS ?= venv
SMOKE_CLI ?= $(BIN)/alarm-callback

.PHONY: smoke

smoke: $(SMOKE_PREREQS) ## post every seed sample to URL like Tencent; non-zero unless all were acked
	@test -n "$(URL)" || { echo "URL is required, e.g. make smoke URL=http://127.0.0.1:8080/callback/\$$ALARM_CALLBACK_TOKEN" >&2; exit 2; }
	$(SMOKE_CLI) send '$(URL)'
