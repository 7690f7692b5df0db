"""HTTP API blueprints."""
from flask import request
from flask_smorest import Blueprint as SmorestBlueprint
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from .. import jsonbody

# curl -d sends application/x-www-form-urlencoded by default; its body is still JSON.
FORM_TYPES = {"application/x-www-form-urlencoded"}


class JsonBodyParser(FlaskParser):
    def _raw_load_json(self, req):
        if req.mimetype not in FORM_TYPES and not is_json_request(req):
            return core.missing
        return jsonbody.loads(req.get_data(cache=True))  # nesting bounded, as on every API


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = JsonBodyParser()


def check_json_body() -> None:
    """POST bodies are JSON: 415 for anything else (curl -d's form type is accepted as JSON)."""
    from ..errors import Problem

    mimetype = request.mimetype
    if request.method != "POST" or not mimetype or mimetype == "application/json" or mimetype.endswith("+json"):
        return
    if mimetype not in FORM_TYPES:
        raise Problem(415, "unsupported_media_type", f"send JSON (application/json), not {mimetype}")


def authenticate_and_check_body() -> None:
    """The before-request hook of the authenticated JSON blueprints."""
    from ..auth import current_user

    current_user()
    check_json_body()
