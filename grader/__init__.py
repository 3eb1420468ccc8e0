"""grader: automated grading and quizzes for courses that teach CNNs.

Installed, the problem bank, the references and the templates are the
subpackages ``grader.problems``, ``grader.reference`` and ``grader.templates``
(see pyproject.toml).  In a source checkout they are the top-level folders
``problems/``, ``reference/`` and ``templates/``; the lines below let the same
imports find them there, so the tree works with or without ``pip install``.
"""

from pathlib import Path as _Path

__version__ = "0.1.0"

_checkout = _Path(__file__).resolve().parent.parent
if (_checkout / "pyproject.toml").is_file() and (_checkout / "problems" / "__init__.py").is_file():
    __path__.append(str(_checkout))  # noqa: F821  (the package's own __path__)
