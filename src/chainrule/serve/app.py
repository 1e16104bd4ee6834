"""The Starlette application behind ``chainrule serve``.

Routes: ``/`` (the page), ``/static/*`` (its HTML/CSS/JS, package data), ``/fonts/*`` (fonts from
installed packages), and a small JSON API that the page calls — ``/api/config``, ``/api/view``,
``/api/edit``, ``/api/grade``, ``/api/export`` — each answering bad input with status 4xx and
``{"error": "..."}`` (shown inline on the page), never an error page.

Protection against other web sites: the Host header must name this server (``TrustedHostMiddleware``,
against DNS rebinding), and a request that carries an Origin header must come from this server's
own origin (a page elsewhere cannot drive it). Request bodies are limited to the size of a spec file.
"""

from __future__ import annotations

import json
import math
import os
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..errors import ChainruleError
from ..spec import shipped_specs
from . import actions, fonts, view

STATIC = os.path.join(os.path.dirname(__file__), "static")
LOOPBACK = ("127.0.0.1", "localhost")
USER_ERRORS = (ChainruleError, ValueError, TypeError, KeyError, IndexError, ArithmeticError, RecursionError)


class TooLarge(Exception):
    pass


class OriginCheck:
    """Refuse a request whose Origin header names another site than the Host it was sent to."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            origin = headers.get("origin")
            if origin is not None and not _same_origin(origin, headers.get("host", "")):
                response = JSONResponse({"error": f"origin {origin!r} may not use this server"}, status_code=403)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _same_origin(origin: str, host: str) -> bool:
    if origin == "null":
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


async def _json_body(request) -> dict:
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > view.MAX_BYTES):
        raise TooLarge
    data, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > view.MAX_BYTES:
            raise TooLarge
        data.append(chunk)
    try:
        body = json.loads(b"".join(data).decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise view.PageError(f"request body: not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise view.PageError("request body: expected a JSON object")
    return body


def _api(handler):
    """A JSON endpoint: parse the body, run ``handler(body)`` off the event loop, map errors to 4xx."""

    async def endpoint(request):
        try:
            body = await _json_body(request)
            result = await run_in_threadpool(handler, body)
        except TooLarge:
            return JSONResponse({"error": f"request body larger than {view.MAX_BYTES:,} bytes "
                                          "(the limit of a spec file)"}, status_code=413)
        except USER_ERRORS as exc:
            return JSONResponse({"error": str(exc) or type(exc).__name__}, status_code=400)
        if isinstance(result, Response):
            return result
        return JSONResponse(_finite(result))

    return endpoint


def _finite(obj):
    """JSON has no inf/NaN (the page would fail to parse them): write them as strings."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def _source(body: dict, default):
    return body.get("spec", default)


def create_app(spec="seed", lang: str = "en", allowed_hosts=None) -> Starlette:
    """The web app. ``spec``: a shipped spec's name or a spec table (the page's starting spec);
    ``allowed_hosts``: Host names the server answers to (default: loopback names only)."""
    start = spec if isinstance(spec, str) else view.canonical(view.load_page_spec(spec))
    if isinstance(start, str):
        view.load_page_spec(start)  # fail at start, not on the first request
    hosts = list(allowed_hosts) if allowed_hosts else list(LOOPBACK)

    async def index(request):
        return FileResponse(os.path.join(STATIC, "index.html"), headers={"Cache-Control": "no-cache"})

    async def font(request):
        name = request.path_params["name"]
        found = await run_in_threadpool(fonts.font_bytes, name)
        if found is None:
            return JSONResponse({"error": f"no font {name!r}"}, status_code=404)
        content, media = found
        return Response(content, media_type=media, headers={"Cache-Control": "max-age=86400"})

    def config(body):
        return {"spec": start, "lang": lang, "specs": shipped_specs(),
                "limits": {"neurons": view.MAX_NEURONS, "depth": view.MAX_DEPTH, "params": view.MAX_PARAMS,
                           "samples": view.MAX_SAMPLES, "step": view.MAX_STEP, "bytes": view.MAX_BYTES}}

    async def config_endpoint(request):
        return JSONResponse(config({}))

    def page_view(body):
        return view.view(_source(body, start), body.get("step", 1), body.get("stage", 0),
                         body.get("lang", lang), bool(body.get("practice", False)))

    def page_edit(body):
        return {"spec": actions.edit(_source(body, start), body.get("op"), body.get("path", ""), body.get("value"))}

    def page_grade(body):
        return actions.grade_answers(_source(body, start), body.get("step", 1), body.get("answers"),
                                     lang=body.get("lang", lang))

    def page_export(body):
        content, media, name = actions.export_file(_source(body, start), body.get("what"), body.get("step", 1),
                                                   body.get("lang", lang))
        return Response(content, media_type=media,
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    routes = [
        Route("/", index),
        Route("/api/config", config_endpoint),
        Route("/api/view", _api(page_view), methods=["POST"]),
        Route("/api/edit", _api(page_edit), methods=["POST"]),
        Route("/api/grade", _api(page_grade), methods=["POST"]),
        Route("/api/export", _api(page_export), methods=["POST"]),
        Route("/fonts/{name}", font),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=hosts), Middleware(OriginCheck)]
    return Starlette(routes=routes, middleware=middleware)
