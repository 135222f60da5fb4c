"""Tokens, scopes, private reads and CORS."""

from __future__ import annotations

import pytest

from tests.protocol.helpers import annotation

WRITE_METHODS = {"POST", "PUT", "DELETE", "PATCH"}


def test_writes_need_a_valid_token_with_scope(app, client, read_token):
    no_token = client.post("/annotations/", json=annotation())
    assert no_token.status_code == 401 and "Bearer" in no_token.headers["WWW-Authenticate"]
    assert no_token.headers["Content-Type"] == "application/problem+json"
    wrong_scheme = client.post("/annotations/", json=annotation(),
                               headers={"Authorization": "Basic abc"})
    assert wrong_scheme.status_code == 401
    unknown = client.post("/annotations/", json=annotation(),
                          headers={"Authorization": "Bearer anno_guess"})
    assert unknown.status_code == 401
    reader = client.post("/annotations/", json=annotation(),
                         headers={"Authorization": f"Bearer {read_token}"})
    assert reader.status_code == 403
    assert client.get("/annotations/").get_json()["total"] == 0


def test_revoked_token_is_refused_at_once(app, client):
    tokens = app.extensions["annoserver.tokens"]
    info, secret = tokens.create("write", "short-lived")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.post("/annotations/", json=annotation(), headers=headers).status_code == 201
    assert tokens.revoke(info.id)
    assert client.post("/annotations/", json=annotation(), headers=headers).status_code == 401
    assert not tokens.revoke(info.id)


def test_tokens_are_stored_hashed(app):
    from sqlalchemy import text

    _, secret = app.extensions["annoserver.tokens"].create("write")
    with app.extensions["annoserver.db"].connect() as connection:
        stored = [row[0] for row in connection.execute(text("SELECT digest FROM tokens"))]
    assert secret not in stored and all(len(d) == 64 for d in stored)


def test_every_write_route_requires_a_scope(app):
    """Walk the route map: any rule accepting a write method must check a token scope."""
    unchecked = []
    for rule in app.url_map.iter_rules():
        if rule.methods & WRITE_METHODS:
            view = app.view_functions[rule.endpoint]
            if getattr(view, "open_reason", None):
                continue
            if getattr(view, "required_scope", None) not in ("write", "admin"):
                unchecked.append(rule.endpoint)
    assert unchecked == []


@pytest.fixture
def private(settings):
    return {**settings, "PRIVATE_READS": True}


def test_private_reads(private):
    from annoserver.app import create_app

    app = create_app(private)
    client = app.test_client()
    assert client.get("/annotations/").status_code == 401
    assert client.get("/health").status_code == 200
    _, secret = app.extensions["annoserver.tokens"].create("read")
    assert client.get("/annotations/",
                      headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    app.extensions["annoserver.db"].dispose()


def test_cors_open_for_reads_only(client):
    read = client.get("/annotations/", headers={"Origin": "https://viewer.example"})
    assert read.headers["Access-Control-Allow-Origin"] in ("*", "https://viewer.example")
    exposed = read.headers["Access-Control-Expose-Headers"]
    for header in ("ETag", "Link", "Location", "Allow", "Vary", "Content-Location"):
        assert header in exposed
    preflight = client.options("/annotations/", headers={
        "Origin": "https://viewer.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Prefer, If-None-Match, Authorization"})
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    for header in ("prefer", "if-none-match", "authorization"):
        assert header in allowed
    write_preflight = client.options("/annotations/", headers={
        "Origin": "https://viewer.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type, Authorization"})
    assert "POST" not in write_preflight.headers.get("Access-Control-Allow-Methods", "")
