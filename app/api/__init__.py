"""HTTP API blueprints."""
from flask_smorest import Blueprint as SmorestBlueprint
from webargs import core
from webargs.flaskparser import FlaskParser

# curl -d sends application/x-www-form-urlencoded by default; its body is still JSON.
FORM_TYPES = {"application/x-www-form-urlencoded"}


class JsonBodyParser(FlaskParser):
    def _raw_load_json(self, req):
        if req.mimetype in FORM_TYPES:
            return core.parse_json(req.get_data(cache=True))
        return super()._raw_load_json(req)


class Blueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = JsonBodyParser()
