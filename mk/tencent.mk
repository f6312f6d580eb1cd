# Tencent SCF deployment (deploy/tencent/serverless.yml, docs/tencent.md). Included by the Makefile.
#
#   make package-scf  - build/scf.zip: handler.py, alarm_callback/ and the dependencies of
#                       requirements.txt + requirements-scf.txt as Linux x86_64 CPython 3.10
#                       binary wheels (SCF runtime Python3.10); prints its size
#   make deploy-scf   - package-scf, then `scf deploy` (Serverless Cloud Framework) of the
#                       callback (deploy/tencent) and the sweeper (deploy/tencent/sweeper)
#
# The dependencies are installed once into build/scf-deps and reinstalled when a requirements
# file (or the build script) changes. deploy/tencent/package.py refuses to write a zip holding boto3 or any Tencent
# SDK product but tdmq and monitor (the alarm-history reconciler).
SCF_DEPS := build/scf-deps
SCF_ZIP := build/scf.zip
SCF_TREE := build/scf

.PHONY: package-scf deploy-scf

package-scf: venv
	@for f in requirements.txt requirements-scf.txt deploy/tencent/package.py; do \
		if [ $$f -nt $(SCF_DEPS)/.installed ]; then rm -rf $(SCF_DEPS); break; fi; done
	$(BIN)/python deploy/tencent/package.py --out $(SCF_ZIP) --deps $(SCF_DEPS) --tree $(SCF_TREE)

# STAGE comes from each directory's .env (docs/tencent.md); `make deploy-scf STAGE=x` overrides it.
deploy-scf: package-scf
	cd deploy/tencent && $(if $(STAGE),STAGE=$(STAGE) )scf deploy
	cd deploy/tencent/sweeper && $(if $(STAGE),STAGE=$(STAGE) )scf deploy
	@# the reconciler needs RECORD_OCCURRENCES=true everywhere: deploy it with RECONCILE=1
	if [ -n "$(RECONCILE)" ]; then cd deploy/tencent/reconcile && $(if $(STAGE),STAGE=$(STAGE) )scf deploy; fi
