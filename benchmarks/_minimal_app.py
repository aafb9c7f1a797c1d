"""The reference for the startup benchmarks: a minimal Textual app showing one DataTable."""

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header


class Minimal(App):
    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable()
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Orchestration", "Tasks", "Schedule", "Last job")
        table.add_row("READY-MARKER", "4", "not scheduled", "never run")


if __name__ == "__main__":
    Minimal().run()
