"""The studio: the browser app at `/`. It is a client of the public API like any other (the user's
key, kept in the browser's session storage); this blueprint only serves its page and built assets."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, abort, render_template, request, send_file

DIST = Path(__file__).resolve().parent / "static" / "dist"
ASSET_PREFIX = "/studio/assets/"
IMMUTABLE = "public, max-age=31536000, immutable"  # names carry a content hash
GZIP_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

# the page runs only our own scripts; CodeMirror and xterm.js set element styles from script, so
# inline styles stay allowed. connect-src 'self' covers ws(s) to this origin (CSP Level 3).
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' blob: data:; font-src 'self'; connect-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

bp = Blueprint("studio", __name__, template_folder="templates")


@lru_cache(maxsize=4)
def _manifest(mtime: float) -> dict:
    return json.loads((DIST / "manifest.json").read_text())


def manifest() -> dict | None:
    """The build's manifest (entry script and stylesheet names), re-read when a build replaces it."""
    try:
        return _manifest((DIST / "manifest.json").stat().st_mtime)
    except (FileNotFoundError, json.JSONDecodeError):
        return None


@bp.get("/")
def page() -> Response:
    built = manifest()
    if built is None:
        body = render_template("studio/unbuilt.html")
        return Response(body, status=503, headers={**PAGE_HEADERS, "Retry-After": "60"}, mimetype="text/html")
    body = render_template("studio/index.html", script=ASSET_PREFIX + built["main.js"],
                           style=ASSET_PREFIX + built["main.css"] if built.get("main.css") else None)
    return Response(body, headers=PAGE_HEADERS, mimetype="text/html")


@bp.get(ASSET_PREFIX + "<path:name>")
def asset(name: str) -> Response:
    path = (DIST / name).resolve()
    if DIST not in path.parents or not path.is_file() or path.suffix == ".gz" or name == "manifest.json":
        abort(404)
    gz = path.with_name(path.name + ".gz")
    wants_gzip = "gzip" in request.headers.get("Accept-Encoding", "")
    if path.suffix in GZIP_TYPES and wants_gzip and gz.is_file():
        response = send_file(gz, mimetype=GZIP_TYPES[path.suffix], conditional=True, etag=True)
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = send_file(path, conditional=True, etag=True)
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = IMMUTABLE
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
