"""One JSON error body everywhere, Chinese messages, no stack traces; the OpenAPI document."""
import pytest

FIXED_ROUTES = ["/api/v1/auth/wechat-login", "/api/v1/auth/bind", "/api/v1/me", "/api/v1/trips",
                "/api/v1/trips/{trip_id}", "/api/v1/admin/units", "/api/v1/admin/users",
                "/api/v1/admin/vehicles", "/api/v1/admin/drivers"]


def _is_error_body(body, status):
    return (set(body) >= {"code", "message", "status", "errors"} and body["status"] == status
            and any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]))


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/api/v1/nowhere", 404),
    ("DELETE", "/api/v1/me", 405),
    ("GET", "/api/v1/trips/999999", 404),
])
def test_http_errors_are_json_in_chinese(api, method, path, status):
    resp = api.call(method, path.removeprefix("/api/v1"), as_="demo-traveler")
    assert resp.status_code == status
    assert _is_error_body(resp.get_json(), status)


def test_malformed_json_is_a_json_error(api):
    resp = api.client.post("/api/v1/auth/wechat-login", data="{not json",
                           content_type="application/json")
    assert resp.status_code in (400, 422)
    assert _is_error_body(resp.get_json(), resp.status_code)


def test_unexpected_exception_is_500_without_trace(app, api, monkeypatch):
    from app.trips import service

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(service, "get_visible", boom)
    resp = api.get("/trips/1", as_="demo-traveler")
    assert resp.status_code == 500
    text = resp.get_data(as_text=True)
    assert "secret internals" not in text and "Traceback" not in text
    assert _is_error_body(resp.get_json(), 500)


def test_openapi_document_lists_the_contract(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.")
    for route in FIXED_ROUTES:
        assert route in doc["paths"], route


def test_every_api_route_is_documented(app, client):
    """The served document is kept true: each /api/v1 route and method appears in it."""
    import re

    doc = client.get("/api/v1/openapi.json").get_json()["paths"]
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule == "/api/v1/openapi.json":
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        assert path in doc, path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in doc[path], f"{method} {path}"


def test_webhook_refusals_are_documented_with_the_error_body(client):
    """Providers' integrators read the refusals from the document, not from our code."""
    doc = client.get("/api/v1/openapi.json").get_json()
    responses = doc["paths"]["/api/v1/webhooks/{provider}"]["post"]["responses"]
    for status in ("401", "404", "422"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    assert set(doc["components"]["schemas"]["ErrorBody"]["properties"]) == {
        "code", "message", "status", "errors"}
