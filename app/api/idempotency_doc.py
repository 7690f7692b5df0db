"""The Idempotency-Key request header and the Idempotent-Replayed response header in the OpenAPI
document (POST /codestudio/run, POST /codestudio/batch); docs/idempotency.md says the rest."""

KEY_PARAMETER = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$"},
    "description": (
        "Makes the request safe to retry: the same key from the same user within 24 hours answers "
        "with the first request's execution or batch (same id, no second run, no second charge), "
        "as a fresh request would answer for it now, with `Idempotent-Replayed: true`. The key with "
        "another body, or on another endpoint, is refused: 422 `idempotency_key_reused`. 1 to 255 "
        "printable ASCII characters, else 422 `invalid_idempotency_key`."),
}

REPLAYED_RESPONSE_HEADER = {
    "Idempotent-Replayed": {
        "description": "`true` when the answer is a replay of an earlier request with the same Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
