"""``gooddata-writer``: load tables into the database a GoodData workspace reads from (as ``db-writer``),
then tell GoodData to refresh that data source through its REST API.

Without ``[parameters.gooddata]`` it only loads, and says so in the log.
"""

from __future__ import annotations

from typing import Any

from kbc_tui.components._params import ParamCheck, sub
from kbc_tui.components.base import Component, RunContext, TaskResult
from kbc_tui.components._sqldb import connection_paths
from kbc_tui.components.db_writer import validate_db_params, write_tables
from kbc_tui.errors import ComponentError


def notify_url(gd: dict[str, Any]) -> str:
    return f"{gd['host'].rstrip('/')}/api/v1/actions/dataSources/{gd['data_source_id']}/uploadNotification"


class GoodDataWriter(Component):
    type_id = "gooddata-writer"
    paths = staticmethod(connection_paths)  # a SQLite file standing in for GoodData's database

    def validate(self, parameters: dict[str, Any]) -> list[tuple[str, str]]:
        check = ParamCheck(parameters)
        validate_db_params(check)
        gd = check.table("gooddata")
        if gd is not None:
            g = sub(check, "parameters.gooddata", gd)
            g.http_url("host")
            g.str("workspace_id")
            g.str("data_source_id", required=True)
            g.str("#token", required=True)
            g.number("timeout_seconds", minimum=1)
            g.finish()
        return check.finish()

    async def run(self, ctx: RunContext) -> TaskResult:
        tables, rows = await ctx.to_thread(write_tables, ctx, ctx.parameters)
        gd = ctx.parameters.get("gooddata")
        if not gd:
            ctx.log.info("No GoodData host configured ([parameters.gooddata]): data loaded, no refresh requested")
            return TaskResult(rows=rows, message=f"{tables} table(s) loaded; GoodData not notified")
        await self._notify(ctx, gd)
        return TaskResult(rows=rows, message=f"{tables} table(s) loaded; GoodData notified")

    async def _notify(self, ctx: RunContext, gd: dict[str, Any]) -> None:
        import httpx

        url = notify_url(gd)
        try:
            async with httpx.AsyncClient(timeout=float(gd.get("timeout_seconds", 30))) as client:
                response = await client.post(url, headers={"Authorization": f"Bearer {gd['#token']}",
                                                           "Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise ComponentError(f"data loaded, but GoodData at {gd['host']} is unreachable: {exc}") from None
        if response.status_code in (401, 403):
            raise ComponentError(f"data loaded, but GoodData refused the token (HTTP {response.status_code})")
        if response.status_code == 404:
            raise ComponentError(f"data loaded, but GoodData has no data source {gd['data_source_id']!r} (HTTP 404)")
        if response.status_code >= 400:
            raise ComponentError(f"data loaded, but GoodData answered HTTP {response.status_code}: "
                                 f"{response.text[:200]}")
        ctx.log.info(f"GoodData data source {gd['data_source_id']!r} notified to refresh (HTTP {response.status_code})")


COMPONENT = GoodDataWriter()
