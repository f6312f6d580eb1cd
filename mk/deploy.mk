# AWS deploy wrappers (serverless.yml, docs/aws.md). Included by the Makefile after mk/aws.mk.
#
#   make deploy-aws STAGE=prod [REGION=...] [RECONCILE=true] [SLS_ARGS='--param x=y ...']
#                          - rebuilds the artifact(s) from the working tree, then
#                            `serverless deploy --stage STAGE`: a code change is never shipped stale
#   make info-aws STAGE=prod     - `serverless info --verbose`: endpoints and stack outputs (CallbackUrl)
#   make logs-aws STAGE=prod [FUNCTION=callback|sweeper|reconcile] [SINCE=30m] [TAIL=1]
#   make remove-aws STAGE=prod   - `serverless remove`; the table and the queues are retained
#   make reconcile-artifact      - build/aws/reconcile.zip: the callback artifact + the Tencent
#                                  monitor SDK (common + monitor), cp312 manylinux wheels
#   make checkov                 - checkov on the packaged template, skips from .checkov.yaml
#
# RECONCILE=true (or 1) builds reconcile.zip and passes --param reconcile=true: the
# alarm-history reconciler function exists only in stacks deployed that way (docs/reconcile.md).
# Every deploy decides it again; to keep it on for a stage without typing it, set
# `params: <stage>: reconcile: "true"` in serverless.yml and build with RECONCILE=true.
RECONCILE_DEPS := build/aws-reconcile-deps
RECONCILE_STAGE := build/aws/reconcile-stage
RECONCILE_ARTIFACT := build/aws/reconcile.zip
# The versions come from requirements-scf.txt, the one place the Tencent SDK is pinned.
RECONCILE_REQUIREMENTS = $(shell grep -E '^tencentcloud-sdk-python-(common|monitor)\b' requirements-scf.txt | sed 's/[[:space:]]*\#.*//')
# checkov lives in its own virtualenv: it pins boto3, packaging... to exact versions that
# must not leak into the project's. One version, so its set of checks (and .checkov.yaml's
# accepted findings) only change on purpose.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := $(VENV)/tools/checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
TEMPLATE := .serverless/cloudformation-template-update-stack.json

reconcile_on = $(filter true 1 yes,$(RECONCILE))
sls_target = --stage $(STAGE) $(if $(REGION),--region $(REGION))
require_stage = @test -n "$(STAGE)" || { echo "STAGE is required, e.g. make $@ STAGE=prod" >&2; exit 2; }

.PHONY: deploy-aws info-aws logs-aws remove-aws reconcile-artifact checkov checkov-tool

TEST_PREREQS += $(RECONCILE_ARTIFACT) $(CHECKOV)

$(RECONCILE_DEPS)/.installed: requirements-scf.txt | venv
	rm -rf $(RECONCILE_DEPS)
	$(BIN)/python -m pip install -q --disable-pip-version-check \
		--platform manylinux2014_x86_64 --implementation cp --python-version 3.12 --abi cp312 \
		--only-binary=:all: --no-compile --target $(RECONCILE_DEPS) $(foreach r,$(RECONCILE_REQUIREMENTS),"$(r)")
	rm -rf $(RECONCILE_DEPS)/bin
	touch $@

reconcile-artifact: $(RECONCILE_ARTIFACT)

# The callback's zip unpacked, the SDK added (precompiled like mk/aws.mk does), zipped again.
$(RECONCILE_ARTIFACT): $(AWS_ARTIFACT) $(RECONCILE_DEPS)/.installed
	rm -rf $(RECONCILE_STAGE) $@
	mkdir -p $(RECONCILE_STAGE)
	$(BIN)/python -m zipfile -e $(AWS_ARTIFACT) $(RECONCILE_STAGE)
	cp -R $(RECONCILE_DEPS)/. $(RECONCILE_STAGE)/
	rm -f $(RECONCILE_STAGE)/.installed
	if [ -n "$(PYTHON312)" ]; then \
		$(PYTHON312) -S -m compileall -q -j 0 --invalidation-mode unchecked-hash $(RECONCILE_STAGE); \
	else echo "warning: no python3.12 found (PYTHON312=...): the SDK in reconcile.zip has no .pyc"; fi
	cd $(RECONCILE_STAGE) && $(CURDIR)/$(BIN)/python -m zipfile -c $(CURDIR)/$@ *
	rm -rf $(RECONCILE_STAGE)

deploy-aws: $(NPM_STAMP)
	$(require_stage)
	@# Rebuilt every time: make's timestamps miss a deleted module or a checkout of older files.
	rm -f $(AWS_ARTIFACT) $(RECONCILE_ARTIFACT)
	$(MAKE) --no-print-directory $(AWS_ARTIFACT) $(if $(reconcile_on),$(RECONCILE_ARTIFACT))
	$(SERVERLESS) deploy $(sls_target) $(if $(reconcile_on),--param=reconcile=true) $(SLS_ARGS)

info-aws: $(NPM_STAMP)
	$(require_stage)
	$(SERVERLESS) info --verbose $(sls_target) $(SLS_ARGS)

FUNCTION ?= callback
SINCE ?= 30m
logs-aws: $(NPM_STAMP)
	$(require_stage)
	$(SERVERLESS) logs --function $(FUNCTION) --startTime $(SINCE) $(if $(TAIL),--tail) $(sls_target)

remove-aws: $(NPM_STAMP)
	$(require_stage)
	@echo "Removing stack alarm-callback-$(STAGE). Retained (DeletionPolicy: Retain): the table" \
		"alarm-callback-$(STAGE)-outbox, the queues alarm-callback-$(STAGE)-alarms, -alarms-dlq," \
		"-schedule-failures and the SNS topic if any; delete them by hand once drained (docs/aws.md)."
	$(SERVERLESS) remove $(sls_target) $(SLS_ARGS)

checkov-tool: $(CHECKOV)

$(CHECKOV):
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --disable-pip-version-check "checkov==$(CHECKOV_VERSION)"

# The template of the last `serverless package` (make package-aws); ids and reasons in .checkov.yaml.
checkov: $(CHECKOV)
	test -f $(TEMPLATE) || { echo "no $(TEMPLATE): run make package-aws first" >&2; exit 2; }
	$(CHECKOV) --quiet --compact --skip-download -f $(TEMPLATE) --framework cloudformation --config-file .checkov.yaml
