"""The editor's own file a timeline was read from (a Kdenlive project, an FCP7 XML or FCPXML
document, a CMX 3600 list),
remembered so that v2a writes its tracks into that file only while it is still as it was read:
one saved or exported again since holds what v2a never read."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping


def record_of(path: str, data: bytes) -> dict[str, str]:
    """What a timeline keeps of the file it was read from: where it is and what it held."""
    return {"path": os.path.abspath(path), "sha256": hashlib.sha256(data).hexdigest()}


def text_if_unchanged(
    record: Mapping | None, kind: str, encoding: str = "utf-8"
) -> tuple[str, str, str]:
    """(the text, the path, "") of the file `record` names, still as it was read; ("", path, why
    not) where it changed or is gone since; ("", "", "") without a record (a timeline read from
    another format). `kind` names the file in the reason ("the Kdenlive project"); `encoding` is
    the file's (a CMX 3600 list may be Windows-1252)."""
    if not record:
        return "", "", ""
    path = str(record["path"])
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        return "", path, f"{kind} {path} can no longer be read ({error.strerror})"
    if hashlib.sha256(data).hexdigest() != record["sha256"]:
        return "", path, f"{kind} {path} changed since v2a read it"
    return data.decode(encoding), path, ""
