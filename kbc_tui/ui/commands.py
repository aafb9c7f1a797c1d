"""Command palette (ctrl+p): "noun: verb" commands for what the current screen shows."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


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

            yield f"orchestration: open {orch.name}", orch.id, partial(app.push_screen, OrchestrationScreen(orch.id))
            yield f"orchestration: run {orch.name}", orch.id, partial(app.run_worker, app.run_orchestration(orch.id))
        for job in app.engine.running_jobs():
            from kbc_tui.ui.screens.job_detail import confirm_cancel

            yield f"job: cancel {job.id} ({job.orchestration})", "Stop a running job", partial(confirm_cancel, app, job.id)

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            if callback is not None:
                yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            if callback is None:
                continue
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
