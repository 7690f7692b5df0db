"""Property-based requests generated from our own OpenAPI document (schemathesis): whatever
the input, the API answers without a server error, with the documented content type and shape."""
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def test_generated_requests_never_cause_server_errors(app, user, worker):
    schema = schemathesis.openapi.from_wsgi("/codestudio/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def generated(case):
            case.call_and_validate(headers=user["headers"], checks=CHECKS)

        generated()


def test_a_file_named_dot_is_a_validation_error(client, user):
    """Found by the generated requests above: "." named no file and the check crashed (500)."""
    for name in (".", "./"):
        response = client.post("/codestudio/run", headers=user["headers"], json={
            "language": "python", "code": "print(1)", "files": [{"name": name, "content": "x"}]})
        assert response.status_code == 422 and response.get_json()["code"] == "validation_error", response.data
