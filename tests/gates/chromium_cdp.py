"""Load a page in headless Debian Chromium over the DevTools protocol (websockets) and report what the page logged.

Used by the report test: console errors, uncaught exceptions and failed resource loads are collected from the
Runtime and Log domains until the load event, then a script measures the page's charts.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--remote-debugging-port=0", "--remote-allow-origins=*"]

PROBE = """JSON.stringify({
  title: document.title,
  charts: Array.from(document.querySelectorAll('svg')).map(s => {
    const r = s.getBoundingClientRect();
    return {width: r.width, height: r.height, shapes: s.querySelectorAll('path, rect, use, text, line').length,
            label: s.getAttribute('aria-label')};
  }),
  sections: Array.from(document.querySelectorAll('section')).map(s => s.id),
  tables: document.querySelectorAll('table').length,
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
  scripts: document.querySelectorAll('script').length,
  text: document.body.innerText,
})"""


def available() -> bool:
    return Path(CHROMIUM).exists()


def _endpoint(user_dir: Path, proc: subprocess.Popen, timeout: float) -> str:
    port_file = user_dir / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}")
        if port_file.exists():
            lines = port_file.read_text().split()
            if len(lines) >= 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        time.sleep(0.05)
    raise TimeoutError("chromium did not open its DevTools port")


async def _session(ws_url: str, page_url: str, timeout: float) -> dict:
    import websockets

    ids = itertools.count(1)
    errors: list[str] = []
    async with websockets.connect(ws_url, max_size=None) as ws:
        pending: dict[int, asyncio.Future] = {}
        loaded = asyncio.Event()

        async def reader():
            async for raw in ws:
                msg = json.loads(raw)
                if "id" in msg and msg["id"] in pending:
                    pending.pop(msg["id"]).set_result(msg)
                    continue
                method, params = msg.get("method"), msg.get("params", {})
                if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                    errors.append("console." + params["type"] + ": " + " ".join(
                        str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
                elif method == "Runtime.exceptionThrown":
                    errors.append("exception: " + params["exceptionDetails"].get("text", "") + " " +
                                  params["exceptionDetails"].get("exception", {}).get("description", ""))
                elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                    errors.append(f"log {params['entry'].get('source')}: {params['entry'].get('text')} "
                                  f"{params['entry'].get('url', '')}")
                elif method == "Page.loadEventFired":
                    loaded.set()

        task = asyncio.create_task(reader())

        async def call(method: str, params: dict | None = None, session: str | None = None) -> dict:
            i = next(ids)
            fut = asyncio.get_running_loop().create_future()
            pending[i] = fut
            msg = {"id": i, "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            await ws.send(json.dumps(msg))
            reply = await asyncio.wait_for(fut, timeout)
            if "error" in reply:
                raise RuntimeError(f"{method}: {reply['error']}")
            return reply["result"]

        try:
            target = (await call("Target.createTarget", {"url": "about:blank"}))["targetId"]
            sid = (await call("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
            for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
                await call(domain, session=sid)
            nav = await call("Page.navigate", {"url": page_url}, session=sid)
            if nav.get("errorText"):
                errors.append("navigation: " + nav["errorText"])
            await asyncio.wait_for(loaded.wait(), timeout)
            await asyncio.sleep(0.3)  # late console messages
            result = await call("Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, session=sid)
            probe = json.loads(result["result"]["value"])
            try:
                await call("Browser.close")
            except Exception:  # the browser may close the socket before replying
                pass
        finally:
            task.cancel()
    return {"errors": errors, **probe}


def load_page(path: Path, timeout: float = 30.0) -> dict:
    """Open file `path` in a fresh headless Chromium; returns {errors, title, charts, sections, ...}."""
    user_dir = tempfile.mkdtemp(prefix="implan-chromium-")
    try:
        proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={user_dir}", "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            ws_url = _endpoint(Path(user_dir), proc, timeout)
            return asyncio.run(_session(ws_url, path.resolve().as_uri(), timeout))
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    finally:
        _remove_profile(Path(user_dir))


def _remove_profile(user_dir: Path) -> None:
    """Chromium's helper processes may still write to the profile for a moment after the browser exits: retry
    the removal for a few seconds instead of failing the test on "Directory not empty"."""
    deadline = time.monotonic() + 10
    while True:
        try:
            shutil.rmtree(user_dir)
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                shutil.rmtree(user_dir, ignore_errors=True)
                return
            time.sleep(0.2)
