"""Stand-ins for GoodData's upload notification and Google Sheets' CSV export that answer as those services do.

GoodData (Cloud / Cloud Native) — "register upload notification" (the Python SDK's
``CatalogDataSourceService.register_upload_notification``, REST ``POST /api/v1/actions/dataSources/{dataSourceId}/
uploadNotification``) tells GoodData a data source's data changed so cached results are recomputed. Every API call
authenticates with ``Authorization: Bearer <API token>`` (missing/wrong: 401); an unknown data source is 404;
success is 204 No Content.
  https://www.gooddata.com/docs/python-sdk/latest/api-reference/sdk/catalogdatasourceservice/register_upload_notification
  https://www.gooddata.com/docs/cloud/api-and-sdk/api/authentication/

Google Sheets — the CSV export of one sheet, ``GET https://docs.google.com/spreadsheets/d/{spreadsheetId}/export
?format=csv&gid={sheetId}`` (the "File > Download > CSV" link; Google documents no REST reference for it, only the
Drive API's export, so this follows what the endpoint does): it answers 307 Temporary Redirect to a
``*.googleusercontent.com`` URL that serves the file as ``text/csv``; an unknown spreadsheet is 404; a sheet not
shared by link sends the browser to a sign-in page (HTML). ``format`` other than the ones served is 400.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from tests.servers.http import LocalServer, Request


class GoodDataStandIn(LocalServer):
    def __init__(self, *, token: str = "gd-secret", data_sources: tuple[str, ...] = ("warehouse",)) -> None:
        super().__init__()
        self.token, self.data_sources = token, set(data_sources)
        self.notified: list[str] = []

    def answer(self, request: Request):
        def error(status: int, title: str):
            return status, {"Content-Type": "application/problem+json"}, json.dumps(
                {"title": title, "status": status}).encode()

        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return error(401, "Unauthorized")
        parts = urlsplit(request.path).path.split("/")
        if (request.method != "POST" or len(parts) != 7 or parts[:5] != ["", "api", "v1", "actions", "dataSources"]
                or parts[6] != "uploadNotification"):
            return error(404, "Not Found")
        if parts[5] not in self.data_sources:
            return error(404, f"Data source {parts[5]} not found")
        self.notified.append(parts[5])
        return 204, {}, b""


class SheetsStandIn(LocalServer):
    def __init__(self, sheets: dict[tuple[str, int], bytes], private: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.sheets, self.private = sheets, set(private)

    def answer(self, request: Request):
        url = urlsplit(request.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = url.path.split("/")
        if request.method == "GET" and parts[1:3] == ["spreadsheets", "d"] and len(parts) == 5 and parts[4] == "export":
            key = parts[3]
            if key in self.private:
                return 200, {"Content-Type": "text/html; charset=utf-8"}, b"<!doctype html><html>Sign in</html>"
            if not any(k == key for k, _ in self.sheets):
                return 404, {"Content-Type": "text/html"}, b"<html>Not Found</html>"
            if query.get("format") != "csv":
                return 400, {"Content-Type": "text/html"}, b"<html>Bad Request</html>"
            gid = query.get("gid", "0")
            return 307, {"Location": f"{self.url}/usercontent/{key}/{gid}"}, b""
        if request.method == "GET" and parts[1:2] == ["usercontent"] and len(parts) == 4:
            body = self.sheets.get((parts[2], int(parts[3]) if parts[3].isdigit() else -1))
            if body is None:
                return 400, {"Content-Type": "text/html"}, b"<html>Bad Request</html>"
            return 200, {"Content-Type": "text/csv", "Content-Disposition": "attachment"}, body
        return 404, {"Content-Type": "text/html"}, b"<html>Not Found</html>"
