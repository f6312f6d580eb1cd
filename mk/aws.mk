# AWS Lambda deployment (serverless.yml, docs/aws.md). Included by the Makefile.
#
#   make aws-artifact  - build/aws/alarm-callback.zip: handler.py, alarm_callback/ and the
#                        runtime dependencies as Linux x86_64 CPython 3.12 wheels
#   make package-aws   - the artifact + `serverless package` (.serverless/: CloudFormation) + cfn-lint
#
# pydantic-core is a compiled wheel, so dependencies are installed for the Lambda platform,
# not for this machine: pip picks the manylinux x86_64 cp312 wheels, no docker needed.
# Serverless then ships the prebuilt zip as is (a Serverless `layers:` section would make
# `serverless package` call CloudFormation, which must work with dummy credentials).
NPM_STAMP := node_modules/.installed
AWS_DEPS := build/aws-deps
AWS_STAGE := build/aws/stage
AWS_ARTIFACT := build/aws/alarm-callback.zip
AWS_SOURCES := handler.py $(shell find alarm_callback -name '*.py' -o -name '*.json' -o -name py.typed)
SERVERLESS := node_modules/.bin/serverless
# A CPython 3.12 (the Lambda runtime's version) to precompile the artifact with: /var/task is
# read-only, so without .pyc files every cold start compiles pydantic again (~0.6 s more).
PYTHON312 ?= $(shell for p in python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12); do \
	$$p -S -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && { echo $$p; break; }; done)

.PHONY: aws-artifact package-aws

TEST_PREREQS += $(NPM_STAMP) $(AWS_ARTIFACT)

$(NPM_STAMP): package.json $(wildcard package-lock.json)
	if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
	touch $@

$(AWS_DEPS)/.installed: requirements.txt | venv
	rm -rf $(AWS_DEPS)
	$(BIN)/python -m pip install -q --disable-pip-version-check \
		--platform manylinux2014_x86_64 --implementation cp --python-version 3.12 --abi cp312 \
		--only-binary=:all: --no-compile --target $(AWS_DEPS) -r requirements.txt
	rm -rf $(AWS_DEPS)/bin
	touch $@

aws-artifact: $(AWS_ARTIFACT)

$(AWS_ARTIFACT): $(AWS_DEPS)/.installed $(AWS_SOURCES)
	rm -rf $(AWS_STAGE) $@
	mkdir -p $(AWS_STAGE)
	cp -R $(AWS_DEPS)/. $(AWS_STAGE)/
	rm -f $(AWS_STAGE)/.installed
	cp -R handler.py alarm_callback $(AWS_STAGE)/
	@# test machinery never ships (tests/test_packages.py checks both zips)
	rm -rf $(AWS_STAGE)/alarm_callback/testing
	find $(AWS_STAGE) -name __pycache__ -prune -exec rm -rf {} +
	@# unchecked-hash: the zip keeps mtimes at 2 s resolution, so timestamp checks could miss
	if [ -n "$(PYTHON312)" ]; then \
		$(PYTHON312) -S -m compileall -q -j 0 --invalidation-mode unchecked-hash $(AWS_STAGE); \
	else echo "warning: no python3.12 found (PYTHON312=...): the artifact has no .pyc, cold starts are slower"; fi
	cd $(AWS_STAGE) && $(CURDIR)/$(BIN)/python -m zipfile -c $(CURDIR)/$@ *
	rm -rf $(AWS_STAGE)

package-aws: $(NPM_STAMP) $(AWS_ARTIFACT)
	$(SERVERLESS) package --stage $(or $(STAGE),prod)
	@# cfn-lint's exit code is a bit mask: 2 = errors (warnings alone pass)
	rc=0; $(BIN)/cfn-lint .serverless/cloudformation-template-update-stack.json || rc=$$?; [ $$((rc & 2)) -eq 0 ]
	@ls -l $(AWS_ARTIFACT)
