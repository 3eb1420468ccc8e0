"""``clean_text``: what every report carries of a student's text, checked against the rule as its
docstring states it (written out here on its own), on random text full of the characters it changes."""

from __future__ import annotations

import random

from grader.report.common import clean_text

SPECIAL = ["\r\n", "\r", "\n", "\t", "\x00", "\x07", "\x0b", "\x1b", "\x1f", "\x7f", "\x85", "\x9f", "\xa0",
           "\ud800", "\udfff", "\ufffe", "\uffff", "\ufffd", "é", "卷积", "a", " ", "\\x1b"]


def by_the_rule(text: str) -> str:
    """Carriage returns (CRLF or alone) become newlines, C0 controls but tab and newline, DEL and C1
    controls a visible \\xNN, lone surrogates and U+FFFE/U+FFFF the replacement character."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for ch in text:
        code = ord(ch)
        if (code < 0x20 and ch not in "\t\n") or 0x7F <= code <= 0x9F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def test_random_text_is_cleaned_by_the_rule():
    rng = random.Random(16)
    for _ in range(3000):
        text = "".join(rng.choice(SPECIAL) for _ in range(rng.randint(0, 12)))
        assert clean_text(text) == by_the_rule(text), repr(text)


def test_clean_text_is_returned_as_it_is_and_other_values_as_text():
    text = "conv forward: wrong values (relative error 1.2e-01)\n\tsee line 12"
    assert clean_text(text) is text
    assert clean_text(3.5) == "3.5" and clean_text(None) == "None"

    class Shouting(str):
        def __str__(self):
            return self.upper()

    assert clean_text(Shouting("a\rb")) == "A\nB"  # a str subclass goes through str(), as before
