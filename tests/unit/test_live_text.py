"""A live run's output as text, read by read (sandbox/sanitize.py StreamText): the pieces join up
to what a whole run's output is sanitized to, however the reads split it."""
import random

import pytest

from sandbox.sanitize import HELD_MAX, StreamText, sanitize

PIECES = [
    b"\x1b[31mred\x1b[0m plain", "h\u00e9llo w\u00f6rld \u20ac\U0001d11e".encode(), b"\x1b]0;title\x07after",
    b"\x1b]0;t\x1b\\x", b"a\x1b[12\x1b[mb", b"\xff\xfe bad \xc3", b"\x1b", b"tab\tnl\n\r\x00\x7f",
    "\u009bX".encode(), b"\x1bPdcs\x1b\\", b"\x1b[?25l\x1b[2J\x1b[H", b"plain text\n",
]


def streamed(chunks, clean=True) -> list[str]:
    text = StreamText(clean)
    return [text.feed(chunk) for chunk in chunks] + [text.feed(b"", final=True)]


def test_a_sequence_split_across_reads_is_removed_whole():
    assert streamed([b"before \x1b[3", b"1mred\x1b", b"[0m after"]) == ["before ", "red", " after", ""]
    assert streamed([b"\x1b]0;a ti", b"tle\x07shown"]) == ["", "shown", ""]


def test_a_character_split_across_reads_comes_whole_with_the_second():
    euro = "\u20ac".encode()  # three bytes
    assert streamed([b"price " + euro[:1], euro[1:2], euro[2:] + b"!"]) == ["price ", "", "\u20ac!", ""]
    assert streamed([euro[:2]]) == ["", "\ufffd"]  # cut short at the end: replaced, as a whole run's would be


def test_a_terminal_stream_keeps_its_escape_sequences():
    euro = "\u20ac".encode()
    assert streamed([b"\x1b[31mred\x1b", b"[0m" + euro[:1], euro[1:]], clean=False) == \
        ["\x1b[31mred\x1b", "[0m", "\u20ac", ""]


@pytest.mark.parametrize("seed", range(5))
def test_any_split_joins_up_to_the_whole_stream_sanitized(seed):
    rng = random.Random(seed)
    for _ in range(2000):
        data = b"".join(rng.choice(PIECES) for _ in range(rng.randint(1, 6)))
        cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, rng.randint(0, 6))))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert "".join(streamed(chunks)) == sanitize(data), chunks


def test_an_unfinished_sequence_is_not_held_back_without_bound():
    text = StreamText()
    assert text.feed(b"\x1b]" + b"x" * (HELD_MAX + 10)) == ""  # an OSC's text is hidden
    assert text.feed(b"still the title\x07shown") == "shown"  # and goes on being hidden until its end
    assert StreamText().feed(b"\x1b[" + b"1" * (HELD_MAX + 10)) == "[" + "1" * (HELD_MAX + 10)
