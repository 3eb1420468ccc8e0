"""grader.render's environment looks up a plain dict's keys at once (``_Environment.getattr``):
every answer must be the one a stock Jinja environment gives, errors included."""

from __future__ import annotations

import collections

import jinja2
import pytest

from grader.render import environment


def stock() -> jinja2.Environment:
    return jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


class Thing:
    colour = "red"

    def __init__(self):
        self.size = 3


CASES = [
    ("{{ d.name }} {{ d.n + 1 }}", {"d": {"name": "conv", "n": 41}}),
    # a key named like a dict method: ``d.items`` is the method (Jinja tries the attribute first)
    ("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", {"d": {"items": [1, 2], "keys": "k"}}),
    ("{{ d.get('x', 'none') }} {{ d.get('items') }}", {"d": {"items": 5, "x": 1}}),
    ("{{ d['items'] }} {{ d.values()|list|length }}", {"d": {"items": 5}}),
    ("{{ t.colour }} {{ t.size }}", {"t": Thing()}),
    # a dict subclass and a mapping of another type keep Jinja's own lookup
    ("{{ d.a }} {{ d.items()|list|length }}", {"d": collections.OrderedDict(a=1)}),
    ("{{ d.a.b }}", {"d": {"a": {"b": "<x>"}}}),
    ("{% if d.flag %}yes{% else %}no{% endif %}", {"d": {"flag": 0}}),
]


@pytest.mark.parametrize("source,context", CASES)
def test_the_same_as_a_stock_environment(source, context):
    assert environment().from_string(source).render(**context) == stock().from_string(source).render(**context)


def test_a_missing_key_is_still_an_error():
    for env in (environment(), stock()):
        with pytest.raises(jinja2.UndefinedError, match="has no attribute 'missing'"):
            env.from_string("{{ d.missing }}").render(d={"here": 1})


def test_a_key_of_another_type_and_an_unhashable_object_are_left_to_jinja():
    assert environment().from_string("{{ d.x }}").render(d={1: "one", "x": "ex"}) == "ex"
    with pytest.raises(jinja2.UndefinedError):
        environment().from_string("{{ d.x }}").render(d={("x",): 1})
