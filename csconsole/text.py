"""Customer text is hostile: make it safe to show.

Subjects, bodies, names and tags come from strangers. They are shown as plain text (never
Rich or Textual markup), with terminal control sequences and invisible direction or
zero-width characters removed, so that nothing a customer types can restyle the screen,
move the cursor, run an action or make one line look like another.
"""

from __future__ import annotations

import re
import unicodedata

# ESC-introduced sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), and
# two-character escapes; then the 8-bit CSI/OSC forms.
_ANSI = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]          # CSI
  | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)? # OSC, terminated by BEL or ST (or cut short)
  | \x1b[PX^_][^\x1b]*(?:\x1b\\)?     # DCS, SOS, PM, APC strings
  | \x1b[@-Z\\-_]                      # other two-character escapes
  | \x9b[0-?]*[ -/]*[@-~]              # 8-bit CSI
  | \x9d[^\x07\x9c]*(?:\x07|\x9c)?     # 8-bit OSC
    """,
    re.VERBOSE,
)
# C0 and C1 controls except tab and newline, DEL, bidi embeddings/overrides/isolates,
# zero-width space and word joiner, BOM, line/paragraph separators, interlinear marks.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]"
)
_LINE_BREAKS = re.compile("[\r\u2028\u2029\x85\x0b\x0c]")

DISPLAY_LIMIT = 20_000
"""Characters of one message body shown before a 'truncated' marker: Rich wraps a 1 MB body
in seconds, and nobody reads that much in a terminal."""


def clean(value: object) -> str:
    """Multi-line text with every escape sequence and invisible control removed."""
    if value is None:
        return ""
    text = str(value)
    if "\x1b" in text or "\x9b" in text or "\x9d" in text:
        text = _ANSI.sub("", text)
    text = text.replace("\r\n", "\n")
    text = _LINE_BREAKS.sub("\n", text)
    text = text.replace("\t", "    ")
    return _INVISIBLE.sub("", text)


def clean_line(value: object, limit: int | None = None) -> str:
    """One line: like clean(), with line breaks folded into spaces."""
    text = " ".join(clean(value).split())
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return text


def normalise_tag(value: object) -> str:
    """Tags are single lowercase words made of letters, digits, '-', '_' and ':'."""
    text = unicodedata.normalize("NFKC", clean_line(value)).lower()
    return re.sub(r"[^\w:\-]+", "_", text).strip("_")


def for_display(body: str, limit: int = DISPLAY_LIMIT) -> tuple[str, bool]:
    """A cleaned body cut to a size a terminal can show; the flag says whether it was cut."""
    text = clean(body)
    if len(text) <= limit:
        return text, False
    return text[:limit], True
