"""Helpers for the drawing tests: they read the SVG's structure (ids and text), never pixels."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

SVG = "{http://www.w3.org/2000/svg}"


class SvgDoc:
    """The parsed SVG: ``ids`` lists every element id; ``text(id)`` is the text inside that element."""

    def __init__(self, data: bytes | str):
        self.root = ET.fromstring(data.encode() if isinstance(data, str) else data)
        self.by_id = {el.get("id"): el for el in self.root.iter() if el.get("id")}

    @property
    def ids(self) -> list[str]:
        return list(self.by_id)

    def count(self, prefix: str) -> int:
        return sum(1 for i in self.by_id if i.startswith(prefix))

    def text(self, gid: str) -> str:
        return "".join("".join(el.itertext()) for el in self.by_id[gid].iter(f"{SVG}text"))

    def style(self, gid: str) -> str:
        return next(self.by_id[gid].iter(f"{SVG}text")).get("style", "")

    def all_text(self) -> str:
        return "\n".join("".join(el.itertext()) for el in self.root.iter(f"{SVG}text"))


@pytest.fixture
def svg():
    def parse(drawing):
        return SvgDoc(drawing.to_bytes("svg"))

    return parse
