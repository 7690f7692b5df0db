"""Output sanitization: ANSI escapes and control characters are removed."""
import re

# CSI, OSC (terminated by BEL or ST), and other two-byte ESC sequences.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
# C0 controls except tab and newline, DEL, and C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def sanitize(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace")
    return _CONTROL.sub("", _ANSI.sub("", text))
