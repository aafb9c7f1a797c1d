"""A stand-in for Tableau Server / Cloud's REST API that refuses requests the way Tableau does.

What it enforces, from Tableau's REST API reference:

- Sign in with a personal access token (``POST /api/{v}/auth/signin``, JSON ``credentials`` with
  ``personalAccessTokenName``/``personalAccessTokenSecret``/``site.contentUrl``); a wrong token is 401.
  Every later call must carry the session token in ``X-Tableau-Auth``, else 401 (error 401002); after
  ``POST /auth/signout`` the token is dead.
  https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_authentication.htm
- Publish Data Source (``POST /api/{v}/sites/{site-id}/datasources``) takes ``multipart/mixed; boundary=...``
  (other content types: 415) with a part named ``request_payload`` (``text/xml``: ``<tsRequest><datasource
  name=...><project id=.../></datasource></tsRequest>``) and a part named ``tableau_datasource`` with a
  ``filename`` (``.hyper``/``.tds``/``.tdsx``/``.tde``) and ``Content-Type: application/octet-stream``; a wrong or
  missing part is 400. One request carries at most 64 MB (bigger: publish in parts), here 413.
  ``overwrite=false`` and an existing name is 409.
  https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_publishing.htm#publish_data_source
  https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_concepts_publish.htm
- Publishing in parts: ``POST .../fileUploads`` (Initiate File Upload) returns an ``uploadSessionId``;
  ``PUT .../fileUploads/{uploadSessionId}`` (Append to File Upload) takes ``multipart/mixed`` with a
  ``request_payload`` part (may be empty) and a ``tableau_file`` part (``application/octet-stream``), appended in
  the order they arrive; then Publish Data Source with ``?uploadSessionId=...&datasourceType=hyper`` and only the
  ``request_payload`` part commits the file. An unknown session is 404.

Tests and the product look only at HTTP statuses; the ``error.code`` values here are indicative. What was
published is kept (``published[name] = bytes``) so a test compares it with the file on disk: chunks sent out of
order or a truncated file show there.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from tests.servers.http import LocalServer, Request

VERSION = "3.19"
SINGLE_REQUEST_LIMIT = 64 * 1024 * 1024  # "The maximum size of a file you can publish in one request is 64MB."
DATASOURCE_EXTENSIONS = (".hyper", ".tds", ".tdsx", ".tde")


@dataclass
class Part:
    name: str | None
    filename: str | None
    content_type: str
    data: bytes


class Refused(Exception):
    def __init__(self, status: int, code: str, summary: str) -> None:
        super().__init__(f"{status} {code} {summary}")
        self.status, self.code, self.summary = status, code, summary


def multipart_parts(content_type: str, body: bytes) -> list[Part]:
    """The parts of a ``multipart/mixed`` body; 415 for another content type, 400 for a malformed body."""
    if not content_type.lower().startswith("multipart/mixed") or "boundary=" not in content_type:
        raise Refused(415, "415000", f"expected multipart/mixed with a boundary, got {content_type or 'none'!r}")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not message.is_multipart() or message.defects:
        raise Refused(400, "400000", "malformed multipart body")
    parts = []
    for part in message.iter_parts():
        disposition = part.get("Content-Disposition", "")
        parts.append(Part(part.get_param("name", header="content-disposition") if disposition else None,
                          part.get_param("filename", header="content-disposition") if disposition else None,
                          part.get_content_type(), part.get_payload(decode=True) or b""))
    return parts


class TableauStandIn(LocalServer):
    def __init__(self, *, token_name: str = "kbc", token_secret: str = "s3cret-token", site: str = "acme",
                 projects: dict[str, str] | None = None) -> None:
        super().__init__()
        self.token_name, self.token_secret, self.site = token_name, token_secret, site
        self.site_id = "site-1"
        self.projects = projects if projects is not None else {"Sales": "proj-9"}
        self.sessions: set[str] = set()
        self.uploads: dict[str, bytearray] = {}
        self.published: dict[str, bytes] = {}  # data source name -> the file as Tableau received it
        self.refusals: list[Refused] = []

    def answer(self, request: Request):
        try:
            status, body = self._route(request)
        except Refused as exc:
            self.refusals.append(exc)
            status, body = exc.status, {"error": {"code": exc.code, "summary": exc.summary}}
        return status, {"Content-Type": "application/json"}, json.dumps(body).encode() if body is not None else b""

    def _route(self, request: Request) -> tuple[int, dict | None]:
        url = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        base = f"/api/{VERSION}"
        if not url.path.startswith(base + "/"):
            raise Refused(404, "404000", "unknown API version or resource")
        path = url.path[len(base):]
        if (request.method, path) == ("POST", "/auth/signin"):
            return self._signin(request)
        token = request.headers.get("X-Tableau-Auth")
        if token not in self.sessions:
            raise Refused(401, "401002", "Unauthorized Access: missing or invalid X-Tableau-Auth")
        if (request.method, path) == ("POST", "/auth/signout"):
            self.sessions.discard(token)
            return 204, None
        site = f"/sites/{self.site_id}"
        if not path.startswith(site + "/"):
            raise Refused(404, "404000", "site not found")
        path = path[len(site):]
        if (request.method, path) == ("GET", "/projects"):
            wanted = query.get("filter", "")
            found = [{"id": i, "name": n} for n, i in self.projects.items()
                     if not wanted or wanted == f"name:eq:{n}"]
            return 200, {"projects": {"project": found}}
        if (request.method, path) == ("POST", "/fileUploads"):
            upload = uuid.uuid4().hex
            self.uploads[upload] = bytearray()
            return 201, {"fileUpload": {"uploadSessionId": upload, "fileSize": "0"}}
        if request.method == "PUT" and path.startswith("/fileUploads/"):
            return self._append(request, path.rsplit("/", 1)[1])
        if (request.method, path) == ("POST", "/datasources"):
            return self._publish(request, query)
        raise Refused(404, "404000", f"no such resource {request.method} {path}")

    def _signin(self, request: Request) -> tuple[int, dict]:
        if not request.headers.get("Content-Type", "").startswith("application/json"):
            raise Refused(415, "415000", "sign-in body must be application/json (Tableau also reads XML; this stand-in not)")
        try:
            credentials = json.loads(request.body)["credentials"]
        except (ValueError, KeyError, TypeError):
            raise Refused(400, "400000", "malformed sign-in request") from None
        if (credentials.get("personalAccessTokenName"), credentials.get("personalAccessTokenSecret"),
                credentials.get("site", {}).get("contentUrl")) != (self.token_name, self.token_secret, self.site):
            raise Refused(401, "401001", "Signin Error")
        token = uuid.uuid4().hex
        self.sessions.add(token)
        return 200, {"credentials": {"token": token, "site": {"id": self.site_id, "contentUrl": self.site},
                                     "user": {"id": "user-1"}}}

    def _append(self, request: Request, upload: str) -> tuple[int, dict]:
        if upload not in self.uploads:
            raise Refused(404, "404003", "Upload session not found")
        parts = {p.name: p for p in multipart_parts(request.headers.get("Content-Type", ""), request.body)}
        if set(parts) != {"request_payload", "tableau_file"}:
            raise Refused(400, "400000", f"expected parts request_payload and tableau_file, got {sorted(map(str, parts))}")
        if parts["tableau_file"].content_type != "application/octet-stream":
            raise Refused(400, "400000", "the tableau_file part must be application/octet-stream")
        self.uploads[upload] += parts["tableau_file"].data
        return 200, {"fileUpload": {"uploadSessionId": upload, "fileSize": str(len(self.uploads[upload]) >> 20)}}

    def _publish(self, request: Request, query: dict[str, str]) -> tuple[int, dict]:
        if query.get("overwrite") == "true" and query.get("append") == "true":
            raise Refused(400, "400000", "overwrite and append cannot both be true")
        upload = query.get("uploadSessionId")
        if upload is None and len(request.body) > SINGLE_REQUEST_LIMIT:
            raise Refused(413, "413000", "a file over 64 MB must be published in parts (Initiate File Upload)")
        parts = multipart_parts(request.headers.get("Content-Type", ""), request.body)
        by_name = {p.name: p for p in parts}
        expected = {"request_payload"} if upload else {"request_payload", "tableau_datasource"}
        if set(by_name) != expected or len(parts) != len(expected):
            raise Refused(400, "400000", f"expected parts {sorted(expected)}, got {[p.name for p in parts]}")
        payload = by_name["request_payload"]
        if payload.content_type != "text/xml":
            raise Refused(400, "400000", "the request_payload part must be text/xml")
        try:
            datasource = ET.fromstring(payload.data).find("datasource")
            name, project = datasource.get("name"), datasource.find("project").get("id")
        except (ET.ParseError, AttributeError):
            raise Refused(400, "400000", "malformed request_payload XML") from None
        if not name or project not in self.projects.values():
            raise Refused(404, "404005", "Project not found")
        if upload:
            if upload not in self.uploads:
                raise Refused(404, "404003", "Upload session not found")
            if query.get("datasourceType") not in ("hds", "tds", "tdsx", "tde", "hyper"):
                raise Refused(400, "400000", "datasourceType is required when committing an upload")
            data = bytes(self.uploads.pop(upload))
        else:
            file = by_name["tableau_datasource"]
            if not file.filename or not file.filename.endswith(DATASOURCE_EXTENSIONS):
                raise Refused(400, "400000", "the tableau_datasource part needs a filename with a data source extension")
            if file.content_type != "application/octet-stream":
                raise Refused(400, "400000", "the tableau_datasource part must be application/octet-stream")
            data = file.data
        if name in self.published and query.get("overwrite") != "true":
            raise Refused(409, "409004", f"a data source named {name!r} already exists")
        self.published[name] = data
        return 201, {"datasource": {"id": uuid.uuid4().hex, "name": name, "project": {"id": project}}}
