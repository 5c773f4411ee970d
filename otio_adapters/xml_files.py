"""Corrections made in place to an XML file an adapter wrote."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable


def rewrite_xml(path: str, root_tag: str, edit: Callable[[ET.Element], bool]) -> None:
    """Apply `edit` to the document at `path` and, where it says it changed something, write it
    back: the declaration and DOCTYPE (the text before `<root_tag`) as the adapter wrote them,
    the rest re-serialised."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    root = ET.fromstring(text)
    if not edit(root):
        return
    head = text[: text.index(f"<{root_tag}")]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(head + ET.tostring(root, encoding="unicode") + "\n")
