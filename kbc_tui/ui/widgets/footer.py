"""The footer every screen shows: the screen's keys, then always ``q`` (quit) and ``?`` (help), or ``^q`` and
``F1`` where an input has focus (``q`` and ``?`` type there).

Textual's footer lists the focused widget's keys, the screen's, then the app's, and cuts what does not fit
on the right: at 80 columns that was ``q`` and ``?``. Here the app's keys come last but are never cut: the
screen's keys that do not fit are left out, from the end (``?`` lists every key of the screen).
"""

from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

ALWAYS = {"quit_app", "help"}  # the app's actions whose keys are always shown
FALLBACK_KEYS = {"ctrl+q", "f1"}  # shown only where q / ? do not work
PALETTE_WIDTH = 13  # "▏^p palette " on the right


def key_width(key: FooterKey) -> int:
    return cell_len(key.key_display) + cell_len(key.description) + 3  # " k " + "Description "


class KbcFooter(Footer):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._composed_for = 0

    def compose(self):
        widgets = list(super().compose())
        if not all(isinstance(w, FooterKey) for w in widgets):  # binding groups: as Textual lays them out
            yield from widgets
            return
        width = self.app.size.width
        self._composed_for = width
        palette = [w for w in widgets if w.has_class("-command-palette")]
        keys = [w for w in widgets if not w.has_class("-command-palette")]
        keys = [self._preferred(k) for k in keys]
        always = [k for k in keys if k.action in ALWAYS]
        room = width - (PALETTE_WIDTH if palette else 0) - sum(key_width(k) for k in always)
        shown = []
        for key in keys:
            if key in always:
                continue
            room -= key_width(key)
            if room < 0:
                break
            shown.append(key)
        yield from shown + always + palette

    def _preferred(self, key: FooterKey) -> FooterKey:
        """Textual shows one key per action, the priority binding first (ctrl+q, F1): show q / ? where they work."""
        if key.key not in FALLBACK_KEYS:
            return key
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.action == key.action and binding.show and binding.key not in FALLBACK_KEYS:
                return FooterKey(binding.key, self.app.get_key_display(binding), key.description, key.action,
                                 disabled=not enabled).data_bind(compact=Footer.compact)
        return key

    def on_resize(self, event: events.Resize) -> None:
        if self._composed_for and self.app.size.width != self._composed_for:
            self.call_after_refresh(self.recompose)
