"""Structured JSON logs on stderr.  Callers pass event names and ids only: never bodies or tokens."""
from __future__ import annotations

import json
import logging
import sys
import time

_STD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {"ts": round(time.time(), 3), "level": record.levelname.lower(), "logger": record.name,
               "event": record.getMessage()}
        for key, value in vars(record).items():
            if key not in _STD and not key.startswith("_"):
                doc[key] = value
        if record.exc_info and record.levelno >= logging.ERROR:
            doc["exc"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(doc, default=str)


def setup(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("imserver")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    # websockets' own logger may include request details; keep it to warnings in JSON form.
    ws = logging.getLogger("websockets")
    ws.handlers[:] = [handler]
    ws.setLevel(logging.WARNING)
    ws.propagate = False
