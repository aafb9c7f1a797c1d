"""``sheet-extractor`` (Keboola's Google Drive extractor): a Google Sheet's CSV export, any CSV URL, or a file.

A Google Sheet is fetched from ``{base_url}/spreadsheets/d/{spreadsheet_id}/export?format=csv&gid={sheet_gid}``
(the sheet must be shared by link). The download streams with httpx, is checked as UTF-8 on the way (or
transcoded to it) and is parsed by DuckDB while it arrives (no file in between), into text columns with
Keboola-style names. A failed or cancelled download leaves the previous table as it was.
"""

from __future__ import annotations

import codecs
import tempfile
import threading
from pathlib import Path
from typing import Any

from kbc_tui.components._csv import (as_utf8, column_names, csv_params, csv_select, head_rows, is_utf8, load_csv,
                                     load_select)
from kbc_tui.components._feed import CSV_BUFFER, Feed
from kbc_tui.components._params import ParamCheck
from kbc_tui.components.base import Component, RunContext, TaskResult
from kbc_tui.errors import ComponentError

GOOGLE = "https://docs.google.com"


def sheet_url(params: dict[str, Any]) -> str:
    base = params.get("base_url", GOOGLE).rstrip("/")
    return f"{base}/spreadsheets/d/{params['spreadsheet_id']}/export?format=csv&gid={params.get('sheet_gid', 0)}"


class SheetExtractor(Component):
    type_id = "sheet-extractor"
    path_keys = ("path",)

    def validate(self, parameters: dict[str, Any]) -> list[tuple[str, str]]:
        check = ParamCheck(parameters)
        sources = [k for k in ("spreadsheet_id", "url", "path") if parameters.get(k)]
        for key in ("spreadsheet_id", "url", "path", "base_url"):
            check.str(key)
        check.int("sheet_gid", minimum=0)
        check.number("timeout_seconds", minimum=1)
        if len(sources) != 1:
            check.add("", "give exactly one source: spreadsheet_id (a Google Sheet), url, or path")
        url = parameters.get("url")
        if isinstance(url, str) and url and not url.startswith(("http://", "https://")):
            check.add("url", "expected an http:// or https:// URL")
        csv_params(check)
        if "output" not in parameters:
            pass  # reported by csv_params
        return check.finish()

    async def run(self, ctx: RunContext) -> TaskResult:
        params = ctx.parameters
        options = dict(output=params["output"], primary_key=params.get("primary_key", []),
                       incremental=bool(params.get("incremental", False)))
        header, delimiter = int(params.get("header", 1)), params.get("delimiter", ",")
        if params.get("path"):
            source = ctx.resolve_path(params["path"], "parameters.path")
            if not source.exists():
                raise ComponentError(f"file {source} does not exist")
            label = str(params["path"])
            with tempfile.TemporaryDirectory(dir=_scratch(ctx)) as tmp:
                text = await ctx.to_thread(as_utf8, source, Path(tmp), params.get("encoding", "utf-8"))
                rows = await ctx.to_thread(load_csv, ctx, text, header=header, delimiter=delimiter, source=label,
                                           **options)
        else:
            label = sheet_url(params) if params.get("spreadsheet_id") else params["url"]
            download = Download(label, float(params.get("timeout_seconds", 60)), bool(params.get("spreadsheet_id")),
                                params.get("encoding", "utf-8"), header, delimiter)
            rows = await ctx.to_thread(download.load, ctx, options)
        ctx.log.info(f"{label} -> {params['output']}: {rows:,} rows")
        return TaskResult(rows=rows, message=params["output"])


class Download:
    """A CSV download parsed into storage while it arrives: a thread streams it (checked as UTF-8, or transcoded
    to it) into a named pipe that DuckDB reads (``_feed``); the column names come from its first records."""

    def __init__(self, url: str, timeout: float, google: bool, encoding: str, header: int, delimiter: str) -> None:
        self.url, self.timeout, self.google, self.encoding = url, timeout, google, encoding
        self.header, self.delimiter = header, delimiter
        self._head: list[list[str]] | None = None
        self._head_ready = threading.Event()

    def load(self, ctx: RunContext, options: dict[str, Any]) -> int:
        with Feed(ctx.scratch_dir) as feed:
            feed.start(lambda f: self._stream(ctx, f))
            self._head_ready.wait()  # the first records are parsed, or the download has ended
            if self._head is None:
                feed.finish()  # it failed before them: its error
            names = feed.load(column_names, ctx, self._head or [], self.header, options["primary_key"], self.url)
            return feed.load(load_select, ctx, csv_select(feed.path, names, self.header, self.delimiter, CSV_BUFFER),
                             source=self.url, inspect=feed.inspect(), **options)

    def _stream(self, ctx: RunContext, feed: Feed) -> None:
        import httpx

        try:
            with httpx.Client(timeout=httpx.Timeout(self.timeout), follow_redirects=True) as client:
                with client.stream("GET", self.url) as response:
                    remove = ctx.cancel.on_cancel(response.close)  # a stalled server does not hold a cancel
                    try:
                        self._check_response(response)
                        size = self._copy(ctx, feed, response.iter_bytes(1 << 20), response.headers)
                    finally:
                        remove()
        except httpx.TimeoutException:
            raise ComponentError(f"timed out after {self.timeout:g} s downloading {self.url}") from None
        except httpx.HTTPError as exc:
            ctx.cancel.check()
            raise ComponentError(f"cannot download {self.url}: {exc}") from None
        finally:
            self._head_ready.set()
        ctx.log.info(f"downloaded {size:,} bytes from {self.url}")

    def _check_response(self, response) -> None:
        url, google = self.url, self.google
        if response.status_code in (401, 403):
            raise ComponentError(f"access denied (HTTP {response.status_code}) for {url}: "
                                 + ("the sheet is not shared: share it as 'Anyone with the link can view'" if google
                                    else "the server refused the request"))
        if response.status_code == 404:
            raise ComponentError(f"not found (HTTP 404): {url}: "
                                 + ("check spreadsheet_id and sheet_gid" if google else "check the URL"))
        if response.status_code >= 400:
            raise ComponentError(f"HTTP {response.status_code} {response.reason_phrase} from {url}")

    def _copy(self, ctx: RunContext, feed: Feed, chunks, headers) -> int:
        """Write the body as UTF-8 into the feed; the head records are parsed first. Returns bytes downloaded."""
        utf8 = is_utf8(self.encoding)
        decoder = codecs.getincrementaldecoder("utf-8" if utf8 else self.encoding)(errors="strict")
        pending: list[bytes] = []  # UTF-8 text held until the head records are complete
        size = 0
        out = None
        for chunk in chunks:
            if not size:
                self._refuse_html(chunk, headers.get("content-type", ""))
            ctx.cancel.check()
            feed.check()
            data = self._utf8(decoder, chunk, size, utf8)
            size += len(chunk)
            if out is None:
                pending.append(data)
                if not self._parse_head(b"".join(pending), final=False):
                    continue
                out = feed.open()
                data = b"".join(pending)
            out.write(data)
        tail = self._utf8(decoder, b"", size, utf8, final=True)
        if out is None:
            self._parse_head(b"".join(pending) + tail, final=True)
            out = feed.open()
            tail = b"".join(pending) + tail
        out.write(tail)
        return size

    def _utf8(self, decoder, chunk: bytes, offset: int, utf8: bool, final: bool = False) -> bytes:
        try:
            text = decoder.decode(chunk, final=final)
        except UnicodeDecodeError as exc:
            where = "it ends in the middle of a character" if final and utf8 else \
                f"{exc.reason} at byte {offset + max(exc.start, 0)}"
            raise ComponentError(f"the file is not valid {'utf-8' if utf8 else self.encoding} text ({where}); "
                                 "set 'encoding' (e.g. \"cp1250\" or \"latin-1\")") from None
        return chunk if utf8 else text.encode("utf-8")

    def _refuse_html(self, chunk: bytes, content_type: str) -> None:
        head = chunk[:512].lstrip().lower()
        if "text/html" in content_type or head.startswith((b"<!doctype html", b"<html")):
            raise ComponentError(f"{self.url} returned a web page (HTML), not CSV: "
                                 + ("is the sheet shared by link and the gid right?" if self.google
                                    else "check the URL (a login page?)"))

    def _parse_head(self, data: bytes, final: bool) -> bool:
        """Parse the head records once they are complete (or the text has ended); True when done."""
        lines = data.decode("utf-8", errors="replace").lstrip("\ufeff").splitlines(keepends=True)
        used: list[str] = []

        def feed_lines():
            for line in lines:
                used.append(line)
                yield line

        rows = head_rows(feed_lines(), self.header, self.delimiter)
        complete = len(rows) == max(self.header, 1) and used and used[-1].endswith(("\n", "\r"))
        if not (complete or final):
            return False
        self._head = rows
        self._head_ready.set()
        return True


def _scratch(ctx: RunContext) -> str:
    return str(ctx.scratch_dir)


COMPONENT = SheetExtractor()
