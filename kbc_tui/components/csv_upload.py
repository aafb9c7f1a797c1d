"""``csv-upload``: a manual upload of a local CSV file into storage.

Manual components cannot be automated: the task picker never offers them and an orchestration that
names one fails validation. The loading itself is real (the sheet extractor's CSV loader).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from kbc_tui.components._csv import as_utf8, csv_params, load_csv
from kbc_tui.components._params import ParamCheck
from kbc_tui.components.base import Component, RunContext, TaskResult
from kbc_tui.errors import ComponentError


class CsvUpload(Component):
    type_id = "csv-upload"
    path_keys = ("path",)

    def validate(self, parameters: dict[str, Any]) -> list[tuple[str, str]]:
        check = ParamCheck(parameters)
        check.str("path", required=True)
        csv_params(check)
        return check.finish()

    async def run(self, ctx: RunContext) -> TaskResult:
        params = ctx.parameters
        source = ctx.resolve_path(params["path"], "parameters.path")
        if not source.exists():
            raise ComponentError(f"file {source} does not exist")
        with tempfile.TemporaryDirectory(dir=ctx.scratch_dir) as tmp:
            text = await ctx.to_thread(as_utf8, source, Path(tmp), params.get("encoding", "utf-8"))
            rows = await ctx.to_thread(load_csv, ctx, text, output=params["output"],
                                       header=int(params.get("header", 1)), delimiter=params.get("delimiter", ","),
                                       primary_key=params.get("primary_key", []),
                                       incremental=bool(params.get("incremental", False)), source=str(source))
        return TaskResult(rows=rows, message=params["output"])


COMPONENT = CsvUpload()
