"""The reference app for the startup benchmarks: the first frame of kbc-tui's home screen, built the fastest
way Textual allows.

A Header, one DataTable and a Footer, and nothing else: no CSS file, no project to read, no job history.
The frame's content is compiled into the module as literals (``FRAME``, filled in by ``_startup.py``
from the home screen of the project being measured): the same title and sub-title, the same columns at the
same fixed widths, the same first screenful of rows (same text and styles, added in one ``add_rows``), the
same footer keys. Like kbc-tui it keeps the garbage collector off until its first frame.
"""

import gc

gc.disable()

from rich.text import Span, Text  # noqa: E402
from textual.app import App  # noqa: E402
from textual.binding import Binding  # noqa: E402
from textual.widgets import DataTable, Footer, Header  # noqa: E402

#: {"title", "sub_title", "columns": [(label, width)], "rows": [[(plain, style, [(start, end, style)])]],
#:  "bindings": [(key, description, key_display)]}; this line is replaced with the literal
FRAME: dict = {"title": "kbc-tui", "sub_title": "", "columns": [("Orchestration", 38)],
               "rows": [[("READY-MARKER", "bold", [])]], "bindings": [("q", "Quit", None)]}


class Reference(App):
    TITLE = FRAME["title"]
    # the footer shows one key per action: each gets its own (none of them is pressed)
    BINDINGS = [Binding(key, f"key_{i}", description, key_display=display) for i, (key, description, display)
                in enumerate(FRAME["bindings"])]

    def compose(self):
        yield Header()
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = FRAME["sub_title"]
        table = self.query_one(DataTable)
        for label, width in FRAME["columns"]:
            table.add_column(label, width=width)
        table.add_rows([[Text(plain, style=style, spans=[Span(*span) for span in spans])
                         for plain, style, spans in row] for row in FRAME["rows"]])
        table.focus()
        self.call_after_refresh(gc.enable)


if __name__ == "__main__":
    Reference().run()
