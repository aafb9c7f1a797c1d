"""Text shown to people (screens, CLI output): control characters made visible, never sent to the terminal.

A name, a log line or a server's error message comes from files and servers kbc-tui does not control. Sent
to a terminal as it is, ``ESC ] 0 ; … BEL`` retitles the window, ``ESC [ 2 J`` clears it and ``CR`` hides
what came before on the line. So every C0 and C1 control character and DEL becomes a visible escape
(``\\x1b``, ``\\r``) before it is shown; only the line break of multi-line text and the tab stay.
"""

from __future__ import annotations

import unicodedata

#: every control character (Unicode category Cc: C0, DEL, C1)
CONTROLS = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))]
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(char: str) -> str:
    return _NAMED.get(char, f"\\x{ord(char):02x}")


#: for multi-line text (log lines, descriptions, messages): line breaks and tabs are kept
_TEXT = str.maketrans({c: _escape(c) for c in CONTROLS if c not in "\n\t"})
#: for one line (names, ids, table cells): a line break or tab becomes a space, so a row stays one row
_LINE = str.maketrans({**{c: _escape(c) for c in CONTROLS}, "\n": " ", "\t": " ", "\r": " "})


def printable(text: object) -> str:
    """``text`` as it may be shown: control characters other than line break and tab escaped (``\\x1b``).
    A Windows line end (CR LF) is a line break."""
    text = str(text)
    if text.isprintable():  # the common case (no control character can be in it), at C speed
        return text
    return text.replace("\r\n", "\n").translate(_TEXT)


def one_line(text: object) -> str:
    """``text`` shown on one line: line breaks and tabs become spaces, other control characters escapes."""
    text = str(text)
    if text.isprintable():
        return text
    return text.translate(_LINE)


def check_no_control(value: str) -> str | None:
    """For names: a control character (an escape sequence, a line break, a tab) is refused, saying which."""
    for position, char in enumerate(value):
        if unicodedata.category(char) == "Cc":
            return (f"contains the control character {_escape(char)} at position {position + 1}; "
                    "a name is shown on screen and must be plain text")
    return None
