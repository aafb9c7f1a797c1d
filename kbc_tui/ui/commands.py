"""Command palette (ctrl+p): "noun: verb" commands for what the current screen shows."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.markup import escape

from kbc_tui.model.text import one_line


class KbcCommands(Provider):
    def _commands(self):
        app = self.app
        from kbc_tui.ui.screens.jobs import JobsScreen

        yield "jobs: list all", "Every job, latest first", partial(app.push_screen, JobsScreen())
        yield "project: reload from disk", "Read the project files again", app.reload_project
        yield "settings: smtp", "E-mail server settings", partial(app.screen.run_action, "smtp") \
            if hasattr(app.screen, "action_smtp") else None
        for orch in sorted(app.project.orchestrations.values(), key=lambda o: o.name.lower()):
            from kbc_tui.ui.screens.orchestration import OrchestrationScreen

            name, orch_id = one_line(orch.name), one_line(orch.id)
            yield f"orchestration: open {name}", orch_id, partial(app.push_screen, OrchestrationScreen(orch.id))
            yield f"orchestration: run {name}", orch_id, partial(app.run_worker, partial(app.run_orchestration, orch.id))
        for job in app.engine.running_jobs():
            from kbc_tui.ui.screens.job_detail import confirm_cancel

            yield (f"job: cancel {job.id} ({one_line(job.orchestration)})", "Stop a running job",
                   partial(confirm_cancel, app, job.id))

    # names come from files: shown as plain text (Textual reads a str prompt or help as markup: '[/]' would crash)
    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            if callback is not None:
                yield DiscoveryHit(Content(name), callback, text=name, help=escape(help_text))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            if callback is None:
                continue
            score, offsets = matcher.fuzzy_search.match(matcher.query, name)
            if score > 0:
                shown = Content(name)
                for offset in offsets:
                    shown = shown.stylize(self.match_style or "reverse", offset, offset + 1)
                yield Hit(score, shown, callback, text=name, help=escape(help_text))
