"""The server serves the built viewer and tells it where the server is."""

from __future__ import annotations

import pytest


@pytest.fixture
def settings(settings, tmp_path):
    built = tmp_path / "viewer-dist"
    built.mkdir()
    (built / "index.html").write_text("<html><script src='config.js'></script></html>")
    (built / "annoserver-mirador.js").write_text("window.AnnoserverMirador = {};")
    return {**settings, "VIEWER_DIR": str(built), "DEMO_MANIFEST": "http://x.test/m.json"}


def test_viewer_page_config_and_assets(client):
    assert client.get("/viewer").status_code == 308
    with client.get("/viewer/?manifest=http://x.test/other.json") as page:
        assert page.status_code == 200 and b"config.js" in page.data
    config = client.get("/viewer/config.js").get_data(as_text=True)
    assert '"server": "http://annoserver.test"' in config
    assert '"defaultManifest": "http://x.test/m.json"' in config
    with client.get("/viewer/annoserver-mirador.js") as script:
        assert script.status_code == 200 and b"AnnoserverMirador" in script.data
    missing = client.get("/viewer/nope.js")
    assert missing.status_code == 404


def test_unbuilt_viewer_is_a_clear_404(app, client, tmp_path):
    app.config["VIEWER_DIR"] = str(tmp_path / "empty")
    response = client.get("/viewer/")
    assert response.status_code == 404 and "npm" in response.get_json()["detail"]
