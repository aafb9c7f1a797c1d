"""Publishing ``.hyper`` extracts to Tableau Server / Cloud through its REST API.

Sign in with a personal access token, find the project by name, publish each file as a data source
(``multipart/mixed``, as the API requires; overwrite by default), sign out. Errors become one line.

Tableau takes at most 64 MB in one request: a bigger file is uploaded in parts (Initiate File Upload, then
Append to File Upload for each 32 MB part, in order) and committed by Publish Data Source with the upload session.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from kbc_tui.components.base import RunContext
from kbc_tui.errors import ComponentError

API_VERSION = "3.19"
SINGLE_REQUEST_MAX = 64 * 1024 * 1024  # "The maximum size of a file you can publish in one request is 64MB."
PART_SIZE = 32 * 1024 * 1024  # Tableau allows at most 1000 parts per file: 32 GB


def _check(response, what: str) -> dict:
    if response.status_code in (401, 403):
        raise ComponentError(f"Tableau refused {what} (HTTP {response.status_code}): check token_name / #token and site")
    if response.status_code == 404:
        raise ComponentError(f"Tableau: {what} not found (HTTP 404)")
    if response.status_code >= 400:
        raise ComponentError(f"Tableau: {what} failed (HTTP {response.status_code}): {response.text[:200]}")
    return response.json() if response.content else {}


def multipart_mixed(payload_xml: str, file: Path) -> tuple[bytes, str]:
    return _multipart(payload_xml, ("tableau_datasource", file.name, file.read_bytes()))


def _multipart(payload_xml: str, file_part: tuple[str, str, bytes] | None = None) -> tuple[bytes, str]:
    """A ``multipart/mixed`` body: the ``request_payload`` part, then the file part (name, filename, bytes)."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: name=\"request_payload\"\r\nContent-Type: text/xml\r\n\r\n"
            f"{payload_xml}\r\n").encode()
    if file_part is not None:
        name, filename, data = file_part
        body += (f"--{boundary}\r\nContent-Disposition: name=\"{name}\"; filename=\"{filename}\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/mixed; boundary={boundary}"


def _read_part(file: Path, offset: int) -> bytes:
    with file.open("rb") as fh:
        fh.seek(offset)
        return fh.read(PART_SIZE)


async def _upload_in_parts(ctx: RunContext, client, site: str, file: Path) -> str:
    """Upload ``file`` in parts, in order; returns the upload session to commit."""
    started = _check(await client.post(f"{site}/fileUploads"), f"starting the upload of {file.name}")
    upload = started["fileUpload"]["uploadSessionId"]
    size = file.stat().st_size
    for offset in range(0, size, PART_SIZE):
        data = await ctx.to_thread(_read_part, file, offset)
        body, content_type = _multipart("", ("tableau_file", file.name, data))
        _check(await client.put(f"{site}/fileUploads/{upload}", content=body, headers={"Content-Type": content_type}),
               f"uploading {file.name} ({offset + len(data):,} of {size:,} bytes)")
    return upload


async def publish_all(ctx: RunContext, publish: dict[str, Any], files: list[Path]) -> None:
    import httpx

    base = publish["server_url"].rstrip("/") + f"/api/{API_VERSION}"
    mode = publish.get("mode", "Overwrite")
    timeout = float(publish.get("timeout_seconds", 120))
    try:
        async with httpx.AsyncClient(timeout=timeout, headers={"Accept": "application/json"}) as client:
            signin = _check(await client.post(f"{base}/auth/signin", json={"credentials": {
                "personalAccessTokenName": publish["token_name"],
                "personalAccessTokenSecret": publish["#token"],
                "site": {"contentUrl": publish.get("site", "")}}}), "sign-in")
            token = signin["credentials"]["token"]
            site_id = signin["credentials"]["site"]["id"]
            client.headers["X-Tableau-Auth"] = token
            try:
                project = publish.get("project", "Default")
                found = _check(await client.get(f"{base}/sites/{site_id}/projects",
                                                params={"filter": f"name:eq:{project}"}), f"project {project!r}")
                projects = found.get("projects", {}).get("project", [])
                if not projects:
                    raise ComponentError(f"Tableau project {project!r} does not exist on the site")
                project_id = projects[0]["id"]
                for file in files:
                    ctx.cancel.check()
                    name = file.stem
                    payload = (f"<tsRequest><datasource name={quoteattr(name)}>"
                               f"<project id={quoteattr(project_id)}/></datasource></tsRequest>")
                    params = {"overwrite": "true" if mode == "Overwrite" else "false", "datasourceType": "hyper"}
                    if file.stat().st_size + (1 << 20) > SINGLE_REQUEST_MAX:  # (1 MB for the rest of the body)
                        params["uploadSessionId"] = await _upload_in_parts(ctx, client, f"{base}/sites/{site_id}", file)
                        body, content_type = _multipart(payload)
                    else:
                        body, content_type = multipart_mixed(payload, file)
                    _check(await client.post(f"{base}/sites/{site_id}/datasources", params=params, content=body,
                                             headers={"Content-Type": content_type}), f"publishing {file.name}")
                    ctx.log.info(f"published {file.name} to Tableau project {project!r} as data source {name!r}")
            finally:
                await client.post(f"{base}/auth/signout")
    except httpx.TimeoutException:
        raise ComponentError(f"Tableau at {publish['server_url']} did not answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise ComponentError(f"cannot reach Tableau at {publish['server_url']}: {exc}") from None
