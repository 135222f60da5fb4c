# Two entry points (see README.md): `make run` and `make test`. Both set everything up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VIEWER_STAMP := viewer/node_modules/.installed
VIEWER_SOURCES := $(shell find viewer/src viewer/page -type f 2>/dev/null) viewer/vite.config.mjs
HOST ?= 127.0.0.1
PORT ?= 8080
# Root needs no sudo (CI, containers); elsewhere apt-get runs through sudo.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: run test lint pytest viewer-test install demo-token chromium clean models

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

$(VIEWER_STAMP): viewer/package.json viewer/package-lock.json
	cd viewer && npm ci --no-audit --no-fund
	touch $(VIEWER_STAMP)

viewer/dist/index.html: $(VIEWER_STAMP) $(VIEWER_SOURCES)
	cd viewer && npm run build

install: $(STAMP) viewer/dist/index.html

# The demo analyses images this same server serves, so its own address is allow-listed.
# `annoserver demo` runs beside the server: it enriches the demo on first start only and
# prints the viewer URL with the enriched demo open.
run: install
	$(BIN)/annoserver db upgrade
	export ANNOSERVER_ALLOWED_HOSTS="$${ANNOSERVER_ALLOWED_HOSTS:-$(HOST):$(PORT)}" \
	  ANNOSERVER_DEMO_MANIFEST="$${ANNOSERVER_DEMO_MANIFEST:-http://$(HOST):$(PORT)/demo/manifest.json}"; \
	$(BIN)/annoserver demo --public-url http://$(HOST):$(PORT) & \
	exec $(BIN)/annoserver serve --host $(HOST) --port $(PORT)

demo-token: $(STAMP)
	$(BIN)/annoserver tokens create --scope write --name demo

# The viewer's browser test drives Debian's chromium (no browser downloads here).
chromium:
	command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq chromium; }

lint: $(STAMP)
	$(BIN)/ruff check .

pytest: $(STAMP)
	$(BIN)/python -m pytest

# The browser test runs the real server from the venv (and the IIIF reference image server).
viewer-test: $(STAMP) $(VIEWER_STAMP) chromium
	cd viewer && npm test

test: lint pytest viewer-test

# Rebuild every shipped model from its source package or by training here (about 2 hours
# of CPU; deterministic: the same versions give the same files, see each script), then check
# the repository. Not part of `make test`: CI only verifies the committed files.
MODELS_VENV := .venv-models
$(MODELS_VENV)/.installed: scripts/requirements-models.txt
	test -x $(MODELS_VENV)/bin/python || $(PYTHON) -m venv $(MODELS_VENV)
	$(MODELS_VENV)/bin/pip install --quiet -r scripts/requirements-models.txt
	$(MODELS_VENV)/bin/pip install --quiet --no-deps timm==1.0.31  # ImageNet labels only
	$(MODELS_VENV)/bin/pip install --quiet --no-deps facenet-pytorch==2.6.0  # MTCNN weights + code
	touch $@

models: $(MODELS_VENV)/.installed $(STAMP)
	$(MODELS_VENV)/bin/python scripts/export_efficientnet_lite0.py
	$(MODELS_VENV)/bin/python scripts/eval_efficientnet_lite0.py
	$(BIN)/python scripts/extract_ppocr.py
	$(MODELS_VENV)/bin/python scripts/export_mtcnn.py
	$(MODELS_VENV)/bin/python scripts/eval_mtcnn.py --write
	nice -n 15 $(MODELS_VENV)/bin/python scripts/train_superres.py --scale 2
	nice -n 15 $(MODELS_VENV)/bin/python scripts/train_superres.py --scale 4
	nice -n 15 $(MODELS_VENV)/bin/python scripts/train_watermark.py
	nice -n 15 $(MODELS_VENV)/bin/python scripts/train_illustrations.py
	$(BIN)/python scripts/eval_text_lines.py --write
	$(BIN)/python scripts/eval_text_recognition.py --pages 12 --write
	$(BIN)/annoserver models check onnx_models

clean:
	rm -rf $(VENV) $(MODELS_VENV) data .pytest_cache viewer/node_modules viewer/dist
