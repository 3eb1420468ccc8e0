"""The one Jinja environment of grader.

Templates live in ``templates/`` (installed: ``grader/templates``).  Undefined
names are errors (StrictUndefined), and HTML and XML output is autoescaped:
text that comes from problems, rosters or student code can never inject markup.
Templates are read once a process (no ``auto_reload``): a run that renders
thousands of quizzes does not look at each template file's time again and again.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import jinja2


_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(jinja2.Environment):
    """``x.name`` on a plain dict whose type has no such attribute looks the key up at once.  Jinja
    tries ``getattr`` first and falls back to the key when it raises: the same answer, but an
    exception raised and caught at each of the thousand or so lookups of a report page (30% of a
    failing submission's page).  Anything else (a dict method's name, a missing key, any other
    object) goes through Jinja's own lookup, unchanged."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)


@cache
def environment() -> jinja2.Environment:
    folder = resources.files("grader.templates")
    env = _Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html", "xml", "html.j2", "xml.j2"], default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters["grouped"] = lambda n: f"{int(n):,}"
    env.filters["num"] = lambda v: str(int(v)) if float(v).is_integer() else f"{float(v):g}"
    return env


def render(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` with ``context``."""
    return environment().get_template(template).render(**context)
