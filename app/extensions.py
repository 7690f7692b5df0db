"""Unbound extensions, initialised in the application factory."""
import http
from typing import TYPE_CHECKING, ClassVar

import sqlalchemy as sa
from flask_migrate import Migrate
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from .schemas.runs import ProblemSchema

PROBLEM_CONTENT_TYPE = "application/problem+json"


class Base(DeclarativeBase):
    if TYPE_CHECKING:  # declared FromClause by SQLAlchemy; every model here maps one Table
        __table__: ClassVar[sa.Table]


class ProblemApi(Api):
    """Documents every error response as RFC 9457 application/problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
openapi = ProblemApi()
