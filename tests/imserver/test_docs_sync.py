"""The imserver docs name every config field and every error code the code has."""
from dataclasses import fields
from pathlib import Path

from imserver.config import Config
from imserver.protocol import ERROR_CODES

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_config_field_is_in_the_reference():
    text = (DOCS / "imserver.md").read_text(encoding="utf-8")
    missing = [f.name for f in fields(Config) if f"`{f.name}`" not in text]
    assert missing == []


def test_every_error_code_is_documented():
    text = (DOCS / "protocol.md").read_text(encoding="utf-8")
    missing = [code for code in ERROR_CODES if f"`{code}`" not in text]
    assert missing == []


def test_every_client_frame_type_is_documented():
    from imserver.server import Node
    text = (DOCS / "protocol.md").read_text(encoding="utf-8")
    missing = [t for t in Node._handlers if f'"type":"{t}"' not in text]
    assert missing == []
