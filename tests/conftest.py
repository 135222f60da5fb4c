from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from annoserver.app import create_app
from tests.services import postgres_schema

# CI replays the same examples every run (no flaky red from a newly drawn example, and no
# deadline on a loaded 2-core machine); local runs keep exploring new ones.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

# IIIF servers (reference implementation, level-0 tile sets, faults) for any test that needs one.
pytest_plugins = ["tests.iiif.fixtures"]


@pytest.fixture(autouse=True)
def _no_flask_cli_flag_leaks():
    """Flask's CLI sets FLASK_RUN_FROM_CLI in os.environ when a test invokes a command; a
    server process started later (the IIIF reference server) would inherit it and refuse
    to run. Removed after every test."""
    yield
    os.environ.pop("FLASK_RUN_FROM_CLI", None)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'annoserver.sqlite3'}"
    else:
        with postgres_schema() as url:
            yield url


@pytest.fixture
def settings(tmp_path, database_url):
    return {"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path), "TESTING": True,
            "PUBLIC_URL": "http://annoserver.test"}


@pytest.fixture
def app(settings):
    app = create_app(settings)
    yield app
    app.extensions["annoserver.db"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def _token(app, scope):
    return app.extensions["annoserver.tokens"].create(scope, f"test-{scope}")[1]


@pytest.fixture
def write_headers(app):
    return {"Authorization": f"Bearer {_token(app, 'write')}",
            "Content-Type": 'application/ld+json; profile="http://www.w3.org/ns/anno.jsonld"'}


@pytest.fixture
def read_token(app):
    return _token(app, "read")
