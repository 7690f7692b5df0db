"""Request and response schemas (marshmallow), one module per API; `common` holds what they share."""
