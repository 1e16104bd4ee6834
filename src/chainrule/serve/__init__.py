"""``chainrule serve``: step through backpropagation in the browser, and practise it.

A local web app (Starlette, served by uvicorn) over the same engine as the CLI: ``view`` turns one
training step into stages and numbers, ``actions`` edits specs, grades answers and exports files,
``app`` is the HTTP layer with its Host/Origin checks, ``fonts`` serves fonts from installed
packages, and ``static/`` holds the page (plain HTML, CSS and JavaScript, no build step).

Needs the ``serve`` extra: ``pip install 'chainrule[serve]'``.
"""

from __future__ import annotations


def create_app(spec="seed", lang: str = "en", allowed_hosts=None):
    """The web app (a Starlette ASGI application); see ``chainrule.serve.app.create_app``."""
    from .app import create_app as _create

    return _create(spec, lang=lang, allowed_hosts=allowed_hosts)


__all__ = ["create_app"]
