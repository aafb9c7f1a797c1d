"""``sheet-extractor`` (Keboola's Google Drive extractor): a Google Sheet's CSV export, any CSV URL, or a file.

A Google Sheet is fetched from ``{base_url}/spreadsheets/d/{spreadsheet_id}/export?format=csv&gid={sheet_gid}``
(the sheet must be shared by link). The download streams with httpx to a file in ``.kbc/``, is
checked as UTF-8 on the way (or transcoded to it), then loaded into storage as text columns with Keboola-style names.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from kbc_tui.components._csv import as_utf8, csv_params, is_utf8, load_csv
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
        encoding = params.get("encoding", "utf-8")
        with tempfile.TemporaryDirectory(dir=_scratch(ctx)) as tmp:
            raw = Path(tmp) / "download.csv"
            if params.get("path"):
                source = ctx.resolve_path(params["path"], "parameters.path")
                if not source.exists():
                    raise ComponentError(f"file {source} does not exist")
                label = str(params["path"])
                raw = source
            else:
                url = sheet_url(params) if params.get("spreadsheet_id") else params["url"]
                label = url
                checked = await self._download(ctx, url, raw, float(params.get("timeout_seconds", 60)),
                                               google=bool(params.get("spreadsheet_id")),
                                               utf8=is_utf8(encoding))
            text = raw if params.get("path") is None and checked else \
                await ctx.to_thread(as_utf8, raw, Path(tmp), encoding)
            rows = await ctx.to_thread(load_csv, ctx, text, output=params["output"],
                                       header=int(params.get("header", 1)), delimiter=params.get("delimiter", ","),
                                       primary_key=params.get("primary_key", []),
                                       incremental=bool(params.get("incremental", False)), source=label)
        ctx.log.info(f"{label} -> {params['output']}: {rows:,} rows")
        return TaskResult(rows=rows, message=params["output"])

    async def _download(self, ctx: RunContext, url: str, target: Path, timeout: float, google: bool,
                        utf8: bool = False) -> bool:
        """Stream ``url`` to ``target``; with ``utf8``, check the text on the way (True when checked)."""
        import codecs

        import httpx

        decoder = codecs.getincrementaldecoder("utf-8")(errors="strict") if utf8 else None
        size = 0
        try:
            async with httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=True) as client:
                async with client.stream("GET", url) as response:
                    if response.status_code in (401, 403):
                        raise ComponentError(
                            f"access denied (HTTP {response.status_code}) for {url}: "
                            + ("the sheet is not shared: share it as 'Anyone with the link can view'" if google
                               else "the server refused the request"))
                    if response.status_code == 404:
                        raise ComponentError(f"not found (HTTP 404): {url}: "
                                             + ("check spreadsheet_id and sheet_gid" if google else "check the URL"))
                    if response.status_code >= 400:
                        raise ComponentError(f"HTTP {response.status_code} {response.reason_phrase} from {url}")
                    content_type = response.headers.get("content-type", "")
                    with target.open("wb") as fh:
                        first = True
                        async for chunk in response.aiter_bytes(1 << 20):
                            if first:
                                first = False
                                head = chunk[:512].lstrip().lower()
                                if "text/html" in content_type or head.startswith((b"<!doctype html", b"<html")):
                                    raise ComponentError(
                                        f"{url} returned a web page (HTML), not CSV: "
                                        + ("is the sheet shared by link and the gid right?" if google
                                           else "check the URL (a login page?)"))
                            ctx.cancel.check()
                            if decoder is not None:
                                try:
                                    decoder.decode(chunk)
                                except UnicodeDecodeError as exc:
                                    raise ComponentError(
                                        f"the file is not valid utf-8 text ({exc.reason} at byte {size + exc.start}); "
                                        "set 'encoding' (e.g. \"cp1250\" or \"latin-1\")") from None
                            fh.write(chunk)
                            size += len(chunk)
                        if decoder is not None:
                            try:
                                decoder.decode(b"", final=True)
                            except UnicodeDecodeError:
                                raise ComponentError("the file is not valid utf-8 text (it ends in the middle of a "
                                                     "character); set 'encoding'") from None
        except httpx.TimeoutException:
            raise ComponentError(f"timed out after {timeout:g} s downloading {url}") from None
        except httpx.HTTPError as exc:
            raise ComponentError(f"cannot download {url}: {exc}") from None
        ctx.log.info(f"downloaded {size:,} bytes from {url}")
        return decoder is not None


def _scratch(ctx: RunContext) -> str:
    return str(ctx.scratch_dir)


COMPONENT = SheetExtractor()
