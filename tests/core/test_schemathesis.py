"""The OpenAPI document is true: schemathesis sends generated requests, valid and invalid,
to every operation as a traveler, a finance officer and an admin; no answer is a server
error and each matches the document (status, content type, body schema)."""
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

CHECKS = [not_a_server_error, response_schema_conformance]
# A few cases per operation, role and mode, found without shrinking: the suite stays
# quick; the attack runs go wide.
BOUNDED = settings(max_examples=8, deadline=None, derandomize=True, database=None,
                   phases=[Phase.explicit, Phase.generate],
                   suppress_health_check=list(HealthCheck))


def _answers_as_documented(operation, headers):
    @BOUNDED
    @given(case=st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                          operation.as_strategy(GenerationMode.NEGATIVE)))
    def answers(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    answers()


@pytest.mark.parametrize("role", ["demo-traveler", "demo-finance", "demo-admin"])
def test_every_operation_answers_as_documented(app, api, role):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {api.login(role)}"}
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operations += 1
        try:  # an operation the document defines wrongly fails here too, with its label
            _answers_as_documented(result.ok(), headers)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - report them all
            failures.append(str(exc))
    assert operations >= 75
    assert not failures, "\n\n".join(failures)


@pytest.fixture
def document(client):
    return client.get("/api/v1/openapi.json").get_json()


def test_every_operation_but_logins_bind_and_webhooks_takes_the_bearer_jwt(document):
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert document["security"] == [{"bearerAuth": []}]
    public = {(path, method) for path, ops in document["paths"].items()
              for method, op in ops.items() if method != "parameters"
              and op.get("security") == []}
    assert public == {("/api/v1/auth/wechat-login", "post"), ("/api/v1/auth/bind", "post"),
                      ("/api/v1/auth/password-login", "post"),
                      ("/api/v1/webhooks/{provider}", "post")}


def test_every_documented_error_is_the_error_body(document):
    error = document["components"]["schemas"]["ErrorBody"]["properties"]
    assert (error["code"]["type"], error["status"]["type"]) == ("string", "integer")
    assert "Error" not in document["components"]["schemas"]
    for name, response in document["components"]["responses"].items():
        if "content" in response:
            assert response["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorBody"}, name


def test_money_is_a_decimal_string_with_numeric_limits(document):
    schemas = document["components"]["schemas"]
    total = schemas["Charge"]["properties"]["total"]
    assert (total["type"], total["pattern"]) == ("string", r"^-?\d+(\.\d+)?$")
    tolls = schemas["FinishBody"]["properties"]["tolls"]
    assert tolls["type"] == "string" and tolls["pattern"] == r"^\d+(\.\d+)?$"
    assert (tolls["x-minimum"], tolls["x-maximum"]) == (0, 99999.99)
    assert "minimum" not in tolls and "maximum" not in tolls


def test_fields_that_may_be_null_are_marked_nullable(document):
    schemas = document["components"]["schemas"]
    assert schemas["Charge"]["properties"]["estimate"]["nullable"] is True
    current = document["paths"]["/api/v1/admin/policies/current"]["get"]["responses"]["200"]
    ref = current["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert schemas[ref]["properties"]["effective_from"]["nullable"] is True
    assert "nullable" not in schemas["Policy"]["properties"]["effective_from"]
