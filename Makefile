# The two commands a newcomer needs: `make run` and `make test`.
# Each sets up what it needs on a fresh clone: .venv, dependencies, migrations and
# the default base model (prepared once into ./data).

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup run test demo lint format clean-test chromium

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The pinned CPU build of torch first, so nothing pulls a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)
	$(PY) manage.py migrate --no-input -v0
	$(PY) manage.py prepare_base_model

# The browser test drives Debian's Chromium (Playwright never downloads a browser).
chromium:
	@test -x /usr/bin/chromium || { apt-get update && apt-get install -y chromium; } \
		|| echo "Could not install chromium; the browser test will fail until it is installed."

run: setup
	$(PY) manage.py runportal

test: setup chromium
	$(PY) -m pytest

demo: setup
	$(PY) manage.py demo $(if $(FILE),--file "$(FILE)")

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
