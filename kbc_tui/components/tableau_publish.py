"""Publishing ``.hyper`` extracts to Tableau Server / Cloud through its REST API.

Sign in with a personal access token, find the project by name, publish each file as a data source
(``multipart/mixed``, as the API requires; overwrite by default), sign out. Errors become one line.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from kbc_tui.components.base import RunContext
from kbc_tui.errors import ComponentError

API_VERSION = "3.19"


def _check(response, what: str) -> dict:
    if response.status_code in (401, 403):
        raise ComponentError(f"Tableau refused {what} (HTTP {response.status_code}): check token_name / #token and site")
    if response.status_code == 404:
        raise ComponentError(f"Tableau: {what} not found (HTTP 404)")
    if response.status_code >= 400:
        raise ComponentError(f"Tableau: {what} failed (HTTP {response.status_code}): {response.text[:200]}")
    return response.json() if response.content else {}


def multipart_mixed(payload_xml: str, file: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: name=\"request_payload\"\r\nContent-Type: text/xml\r\n\r\n"
            f"{payload_xml}\r\n--{boundary}\r\nContent-Disposition: name=\"tableau_datasource\"; "
            f"filename=\"{file.name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    body = head + file.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/mixed; boundary={boundary}"


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
                    body, content_type = multipart_mixed(payload, file)
                    _check(await client.post(
                        f"{base}/sites/{site_id}/datasources",
                        params={"overwrite": "true" if mode == "Overwrite" else "false", "datasourceType": "hyper"},
                        content=body, headers={"Content-Type": content_type}), f"publishing {file.name}")
                    ctx.log.info(f"published {file.name} to Tableau project {project!r} as data source {name!r}")
            finally:
                await client.post(f"{base}/auth/signout")
    except httpx.TimeoutException:
        raise ComponentError(f"Tableau at {publish['server_url']} did not answer within {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise ComponentError(f"cannot reach Tableau at {publish['server_url']}: {exc}") from None
