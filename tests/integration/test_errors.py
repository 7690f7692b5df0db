"""Bad input gets a clear problem+json answer, never a 500."""
import json

import pytest


def problem(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == code and body["status"] == status
    assert body["type"].endswith(code) and body["title"] and "detail" in body
    return body


def post(client, user, payload=None, **kwargs):
    kwargs.setdefault("headers", user["headers"])
    if payload is not None:
        kwargs["json"] = payload
    return client.post("/codestudio/run", **kwargs)


def test_missing_and_bad_keys_are_401(client):
    problem(client.post("/codestudio/run", json={"language": "python", "code": "1"}), 401, "unauthorized")
    problem(client.get("/codestudio/executions", headers={"Authorization": "Bearer nope"}), 401, "invalid_api_key")
    problem(client.get("/codestudio/stats", headers={"X-API-Key": "cs_wrong"}), 401, "invalid_api_key")


def test_x_api_key_header_is_accepted(client, user):
    assert client.get("/codestudio/executions", headers={"X-API-Key": user["key"]}).status_code == 200


def test_revoked_key_is_401(app, client, make_user):
    from app.services.apikeys import revoke_key

    fresh = make_user()
    with app.app_context():
        assert revoke_key(fresh["key"][:11]) == 1
    problem(client.get("/codestudio/executions", headers=fresh["headers"]), 401, "invalid_api_key")


def test_malformed_json_is_400(client, user):
    problem(post(client, user, data="{not json", content_type="application/json"), 400, "malformed_json")


def test_invalid_utf8_body_is_400(client, user):
    problem(post(client, user, data=b'{"language":"python","code":"\xff\xfe"}', content_type="application/json"),
            400, "malformed_json")


def test_wrong_content_type_is_415(client, user):
    problem(post(client, user, data="language=python", content_type="text/plain"), 415, "unsupported_media_type")
    problem(post(client, user, data="x", content_type="multipart/form-data; boundary=x"), 415,
            "unsupported_media_type")


def test_unknown_language_is_422(client, user):
    body = problem(post(client, user, {"language": "brainfuck++", "code": "x"}), 422, "unknown_language")
    assert "python" in body["detail"]


@pytest.mark.parametrize("payload, field", [
    ({"language": "python"}, "code"),
    ({"language": "python", "code": 5}, "code"),
    ({"language": "python", "code": "1", "args": "not-a-list"}, "args"),
    ({"language": "python", "code": "1", "args": ["ok", "nul\x00"]}, "args"),
    ({"language": "python", "code": "a\x00b"}, "code"),
    ({"language": "python", "code": "\ud800"}, "code"),
    ({"language": "python", "code": "1", "limits": {"timeout": -1}}, "limits"),
    ({"language": "python", "code": "1", "limits": {"memory_mb": "lots"}}, "limits"),
    ({"language": "python", "code": "1", "wait": "maybe"}, "wait"),
    ({"language": "python", "code": "1", "surprise": True}, "surprise"),
    ({"language": "python", "code": "1", "files": [{"name": "../escape.py", "content": ""}]}, "files"),
    ({"language": "python", "code": "1", "files": [{"name": "/etc/passwd", "content": ""}]}, "files"),
    ({"language": "python", "code": "1", "files": [{"name": "a\nb", "content": ""}]}, "files"),
    ({"language": "python", "code": "1", "files": [{"name": "a.py", "content": ""}] * 2}, "files"),
    ({"language": "python", "code": "1", "files": [{"name": "lib", "content": ""},
                                                   {"name": "lib/x.py", "content": ""}]}, "files"),
    ([1, 2, 3], "_schema"),
])
def test_bad_fields_are_422_naming_the_field(client, user, payload, field):
    body = problem(post(client, user, payload), 422, "validation_error")
    assert field in json.dumps(body["errors"])


def test_offending_file_name_is_named(client, user):
    files = [{"name": "ok.py", "content": ""}, {"name": "x/../../y", "content": ""}]
    body = problem(post(client, user, {"language": "python", "code": "1", "files": files}), 422, "validation_error")
    assert "x/../../y" in json.dumps(body["errors"])


def test_entry_file_used_as_a_directory_is_422(client, user):
    body = problem(post(client, user, {"language": "python", "code": "1",
                                       "files": [{"name": "main.py/x", "content": ""}]}), 422, "invalid_file_name")
    assert body["file"] == "main.py/x"


def test_entry_file_name_clash_is_422(client, user):
    body = problem(post(client, user, {"language": "python", "code": "1",
                                       "files": [{"name": "main.py", "content": ""}]}), 422, "invalid_file_name")
    assert body["file"] == "main.py"


def test_code_over_one_mib_is_413(client, user):
    problem(post(client, user, {"language": "python", "code": "#" * (1024 * 1024 + 1)}), 413, "code_too_large")


def test_request_over_the_body_cap_is_413(client, user):
    problem(post(client, user, data=b"x" * (9 * 1024 * 1024), content_type="application/json"), 413,
            "payload_too_large")


def test_limits_above_the_tier_are_refused_naming_limit_and_tier(client, make_user):
    free = make_user("free")
    body = problem(post(client, free, {"language": "python", "code": "1", "limits": {"timeout": 30}}), 422,
                   "limit_exceeded")
    assert (body["limit"], body["tier"], body["maximum"]) == ("timeout", "free", 10)


def test_unknown_execution_is_404(client, user):
    problem(client.get("/codestudio/executions/doesnotexist", headers=user["headers"]), 404, "execution_not_found")
    problem(client.get("/codestudio/executions/" + "x" * 500, headers=user["headers"]), 404, "execution_not_found")


def test_huge_limits_name_the_tier_maximum(client, user):
    body = problem(post(client, user, {"language": "python", "code": "1", "limits": {"timeout": 100000}}), 422,
                   "limit_exceeded")
    assert (body["limit"], body["maximum"]) == ("timeout", 30)
    body = problem(post(client, user, {"language": "python", "code": "1", "limits": {"memory_mb": 10 ** 9}}), 422,
                   "limit_exceeded")
    assert body["limit"] == "memory_mb"


def test_unknown_status_filter_is_422(client, user):
    problem(client.get("/codestudio/executions?status=bogus", headers=user["headers"]), 422, "validation_error")


def test_bad_cursor_and_limit_are_422(client, user):
    problem(client.get("/codestudio/executions?cursor=%%%", headers=user["headers"]), 422, "invalid_cursor")
    problem(client.get("/codestudio/executions?limit=0", headers=user["headers"]), 422, "validation_error")


def test_unknown_route_and_method_are_problems(client, user):
    problem(client.get("/codestudio/nope"), 404, "not_found")
    problem(client.get("/codestudio/run", headers=user["headers"]), 405, "method_not_allowed")
