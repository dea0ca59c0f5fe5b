# Dugnad: `make run` to try it, `make test` to test it. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app.py
# The local PostgreSQL server of these machines; `make test` runs the suite on it too.
TEST_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/test

.PHONY: bench run serve install install-dev translations migrate test test-sqlite test-postgres lint vendor extract-messages clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed translations

install-dev: $(VENV)/.installed-dev translations

# Compiled catalogues are build output, not source: made from translations/*/LC_MESSAGES/*.po.
translations: $(VENV)/.installed
	$(BIN)/pybabel compile -d translations >/dev/null

migrate: install
	$(BIN)/flask db upgrade

# With MAIL_SERVER set, the outbox worker runs in the background next to the web server,
# and is stopped (SIGTERM) when the web server exits.
run: migrate
	@$(BIN)/flask demo
	@echo "Dugnad runs on http://127.0.0.1:5000 (Ctrl+C stops it)."
	@if [ -n "$$MAIL_SERVER" ]; then \
		$(BIN)/flask outbox run & worker=$$!; \
		trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	fi; \
	$(BIN)/flask run --host 127.0.0.1 --port 5000

# Production: gunicorn with gunicorn.conf.py (workers, threads, timeouts, logs to stdout).
# Set DUGNAD_ENV=production and the rest first (README, Production).
serve: migrate
	$(BIN)/gunicorn --config gunicorn.conf.py 'app:create_app()'

test: install-dev
	$(BIN)/ruff check .
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

# One worker per CPU; a module's tests stay on one worker (they share its worlds).
PYTEST := $(BIN)/pytest -p no:cacheprovider -n auto --dist loadfile

test-sqlite:
	$(PYTEST)

test-postgres:
	@if $(BIN)/python tests/pg_ready.py "$(TEST_POSTGRES_URL)"; then \
		TEST_DATABASE_URL="$(TEST_POSTGRES_URL)" $(PYTEST); \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL at $(TEST_POSTGRES_URL) is not reachable; CI requires it." >&2; exit 1; \
	else \
		echo "SKIPPED: PostgreSQL run: no server at $(TEST_POSTGRES_URL) (start it, see README)."; \
	fi

lint: install-dev
	$(BIN)/ruff check .

# Find new user-facing strings and add them to every catalogue.
extract-messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l --no-location --omit-header -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete

# Refresh the vendored front-end packages (versions in static/vendor/VERSIONS).
HTMX_VERSION := 2.0.11
DS_CSS_VERSION := 1.22.0
INTER_VERSION := 5.3.0
AXE_VERSION := 4.14.1
vendor:
	rm -rf .vendor-tmp && mkdir -p .vendor-tmp
	cd .vendor-tmp && npm pack --silent htmx.org@$(HTMX_VERSION) @digdir/designsystemet-css@$(DS_CSS_VERSION) @fontsource/inter@$(INTER_VERSION) axe-core@$(AXE_VERSION) >/dev/null
	cd .vendor-tmp && for f in *.tgz; do mkdir -p "$${f%.tgz}" && tar xzf "$$f" -C "$${f%.tgz}"; done
	cp .vendor-tmp/htmx.org-*/package/dist/htmx.min.js static/vendor/htmx.min.js
	cp .vendor-tmp/digdir-designsystemet-css-*/package/dist/src/index.css static/vendor/designsystemet/index.css
	cp .vendor-tmp/digdir-designsystemet-css-*/package/dist/theme/designsystemet.css static/vendor/designsystemet/theme/designsystemet.css
	for w in 400 600 700; do for s in latin latin-ext; do \
		cp .vendor-tmp/fontsource-inter-*/package/files/inter-$$s-$$w-normal.woff2 static/vendor/inter/; done; done
	cp .vendor-tmp/axe-core-*/package/axe.min.js tests/vendor/axe.min.js
	rm -rf .vendor-tmp
	@echo "Vendored; update static/vendor/VERSIONS if you changed a version."

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Figures, not pass/fail: see bench/.
bench: install-dev
	$(BIN)/python bench/bench_pdf.py
	$(BIN)/python bench/bench_seal.py
	$(BIN)/python bench/bench_search.py
	$(BIN)/python bench/bench_import.py
	$(BIN)/python bench/bench_invite.py
	$(BIN)/python bench/bench_builder.py
	$(BIN)/python bench/bench_print.py
	$(BIN)/python bench/bench_start_page.py
	$(BIN)/python bench/bench_report.py
	$(BIN)/python bench/bench_national.py
	$(BIN)/python bench/bench_load.py
	$(BIN)/python bench/bench_faults.py
