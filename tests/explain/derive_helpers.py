"""Helpers for the derivation tests: read a value at an entry's key inside a step's JSON dict."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"([A-Za-z_][A-Za-z_0-9]*)|\[(\d+)\]")


def at_key(step: dict, key: str):
    """``at_key(step, "grad.W1[0][2]")`` → step["grad"]["W1"][0][2]."""
    obj = step
    for part in key.split("."):
        for name, index in _TOKEN.findall(part):
            obj = obj[name] if name else obj[int(index)]
    return obj
