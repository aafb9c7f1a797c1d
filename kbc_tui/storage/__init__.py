"""The project's table store. No Textual."""

from kbc_tui.storage.base import Column, Storage, TableId, TableInfo, check_table_id

__all__ = ["Column", "Storage", "TableId", "TableInfo", "check_table_id"]
