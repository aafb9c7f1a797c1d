"""Reading and writing the project's files (TOML) and the job history (SQLite). No Textual."""

from kbc_tui.store.project import Project, resolve_project_dir

__all__ = ["Project", "resolve_project_dir"]
