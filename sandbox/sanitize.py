"""Output sanitization: ANSI escapes and control characters are removed; `StreamText` does it
chunk by chunk for output sent as it comes (live runs)."""
import codecs
import re

# CSI, OSC (terminated by BEL or ST), and other two-byte ESC sequences.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
# C0 controls except tab and newline, DEL, and C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# a sequence more text may still complete: a lone ESC, a CSI without its final byte, an OSC without its end
_OPEN = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*)?\Z")
HELD_MAX = 4096  # characters of an unfinished sequence held back; beyond, it is let through
_OSC = "\x1b]"


def sanitize(raw: bytes) -> str:
    return _clean(raw.decode("utf-8", errors="replace"))


def _clean(text: str) -> str:
    return _CONTROL.sub("", _ANSI.sub("", text))


class StreamText:
    """One output stream's text, read by read: UTF-8 decoded incrementally (a character split
    across two reads comes whole with the second) and, when `clean`, sanitized so that the pieces
    join up to what `sanitize` makes of the whole stream: the tail from the last ESC is held back
    while more text may still make it a sequence."""

    def __init__(self, clean: bool = True):
        self.clean = clean
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._held = ""

    def feed(self, data: bytes, final: bool = False) -> str:
        """The text these bytes add; `final`: the stream ended, nothing is held back any more."""
        text = self._held + self._decoder.decode(data, final)
        if not self.clean:
            return text
        cut = _open_tail(text) if not final else len(text)
        text, self._held = text[:cut], text[cut:]
        if len(self._held) > HELD_MAX:  # no terminal waits this long: let it through as it stands
            text += self._held
            self._held = _OSC if self._held.startswith(_OSC) else ""  # an OSC's text goes on being hidden
        return _clean(text)


def _open_tail(text: str) -> int:
    """Where an unfinished sequence at the end of `text` starts (len(text): there is none)."""
    start = text.rfind("\x1b")
    return start if start >= 0 and _OPEN.match(text, start) else len(text)
