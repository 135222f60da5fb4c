"""Health, readiness, metrics, the OpenAPI document, configuration and migrations."""

from __future__ import annotations

import re
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from annoserver.app import create_app
from annoserver.config import DEFAULTS
from annoserver.store.tables import Base

ROOT = Path(__file__).resolve().parent.parent


def test_health_ready_metrics(client):
    assert client.get("/health").get_json() == {"status": "ok"}
    assert client.get("/ready").get_json()["database"] == "ok"
    client.get("/annotations/")
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert b"annoserver_http_requests_total" in metrics.data
    assert b'endpoint="annotations.container"' in metrics.data


def test_ready_fails_without_database(tmp_path):
    app = create_app({"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
                      "AUTO_MIGRATE": False})
    response = app.test_client().get("/ready")
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.get_json()["detail"]


def test_every_route_is_in_openapi(app, client):
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule)
        assert path in spec["paths"], f"{rule.rule} is missing from openapi.json"
        documented = {method.upper() for method in spec["paths"][path]} - {"PARAMETERS"}
        assert rule.methods - {"HEAD", "OPTIONS"} <= documented, rule.rule


def test_unknown_route_is_a_problem(client):
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.get_json()["detail"]


def test_config_layers(tmp_path, monkeypatch):
    config_file = tmp_path / "annoserver.toml"
    config_file.write_text('page_size = 7\nallowed_hosts = ["a.example"]\n'
                           f'data_dir = "{tmp_path}"\n')
    monkeypatch.setenv("ANNOSERVER_CONFIG", str(config_file))
    monkeypatch.setenv("ANNOSERVER_PAGE_SIZE", "9")
    app = create_app({"PUBLIC_URL": "https://annotations.example/"})
    assert app.config["PAGE_SIZE"] == 9
    assert app.config["ALLOWED_HOSTS"] == ["a.example"]
    assert app.config["PUBLIC_URL"] == "https://annotations.example"
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'annoserver.sqlite3'}"
    app.extensions["annoserver.db"].dispose()


def test_every_config_key_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for key in DEFAULTS:
        assert f"`ANNOSERVER_{key}`" in readme, key


def test_migrations_match_the_tables(app):
    with app.extensions["annoserver.db"].connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, Base.metadata) == []


def test_empty_sqlite_database_is_migrated_on_first_start(tmp_path):
    app = create_app({"DATA_DIR": str(tmp_path)})
    assert (tmp_path / "annoserver.sqlite3").exists()
    assert app.test_client().get("/annotations/").status_code == 200
    app.extensions["annoserver.db"].dispose()


def test_context_document_defines_the_provenance_terms(client):
    response = client.get("/ns/annoserver.jsonld")
    assert response.headers["Content-Type"] == "application/ld+json"
    terms = response.get_json()["@context"]
    for term in ("confidence", "modelVersion", "modelSha256", "runtime", "executionProvider"):
        assert term in terms
    assert "as" not in terms  # would clash with anno.jsonld's ActivityStreams prefix
