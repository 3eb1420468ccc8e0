"""Starting the sandbox children a grading needs, and what each may see.

- ``part_session``: a numpy part's child (the references hidden, the grader's files
  protected, the assignment's forbidden modules refused); ``Prestarted`` starts them in
  the background when grading starts, forked from a warm template (``sandbox.warm``) when
  there are several, or from the batch worker's own;
- ``reference_session``: one child per process that runs only the references (speed tests);
- ``start_transfer``: the transfer part's children (``checks.transfer.Started``);
- ``check_isolation``: refuse to grade where the children cannot have every namespace.

Nothing here scores (``grader.scoring``) or runs a check (``grader.checks``).
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import multiprocessing.util
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from grader import config as config_module
from grader.errors import UsageError
from grader.sandbox import Limits, Session
from grader.sandbox import session as session_module
from grader.sandbox.session import HARDENING, Rules


ISOLATION_REQUIRED = "isolation is required (--require-isolation, or [sandbox] require_isolation)"


def check_isolation(protections: dict | None = None, part: str = "") -> None:
    """Refuse to grade without isolation: a UsageError that says why when this machine gives
    the sandbox no namespaces (no ``protections``), or when ``part``'s child lacked one of
    them (``protections``: what it had, as ``Session.protections`` says)."""
    if protections is None:
        unshare, why = session_module.namespace_support()
        if not unshare:
            raise UsageError(f"{ISOLATION_REQUIRED}, and this machine cannot give it: {why}")
        return
    for key in HARDENING:
        had = str(protections.get(key, "not reported"))
        if had.startswith("not "):
            raise UsageError(f"{ISOLATION_REQUIRED}, and the {part} part's sandbox ran without it ({key}: {had})")


@functools.lru_cache(maxsize=None)
def hidden_folders() -> tuple[str, ...]:
    """What a child that runs student code must not read: the reference implementations,
    the transfer part's data generator and reference solution among them (the Session
    hides the forbidden modules' packages itself, from its rules).  A student install
    has no references: nothing to hide.  Found once per process (every part's session asks)."""
    spec = importlib.util.find_spec("grader.reference")
    return tuple(str(Path(p).resolve()) for p in (spec.submodule_search_locations or [])) if spec else ()


def protected_paths(cfg: config_module.Config | None = None) -> tuple[str, ...]:
    """What student code may not read besides the hidden folders: the grader's own packages
    (the problem bank, templates) and the assignment's configuration."""
    source = os.path.abspath(cfg.source) if cfg is not None and cfg.source != "default" else None
    secrets = tuple(sorted(path for layer in (cfg.declared.values() if cfg is not None else ()) for path in layer.secrets))
    return _protected(source, secrets)


@functools.lru_cache(maxsize=16)
def _protected(source: str | None, secrets: tuple[str, ...]) -> tuple[str, ...]:
    """``protected_paths`` for an assignment's config file and its declared parts' secrets: the
    grader's folders are found once per process and config (every part's session asks, 0.25 ms each)."""
    import grader

    problems = importlib.util.find_spec("grader.problems")  # its folder, without importing the problem bank
    banks = (problems.submodule_search_locations or []) if problems is not None else []  # none in a student install
    paths = {str(Path(grader.__file__).resolve().parent)} | {str(Path(p).resolve()) for p in banks}
    for extra in grader.__path__[1:]:  # a source checkout's root: its top-level folders, never the root itself
        paths |= {str((Path(extra) / name).resolve()) for name in ("templates", "problems", "reference")
                  if (Path(extra) / name).is_dir()}
    if source is not None and Path(source).is_file():
        paths.add(str(Path(source).resolve()))
    paths.update(secrets)  # a declared part's reference, wrong variants and case generator
    return tuple(sorted(paths))


def limits_for(cfg: config_module.Config) -> Limits:
    """The limits every part's child gets under this assignment config."""
    return Limits(call_timeout_s=cfg.call_timeout_s, total_timeout_s=cfg.part_timeout_s, memory_mb=cfg.memory_mb,
                  max_output_bytes=max(cfg.output_bytes, 1))


#: per (limits, trusted folders): the session and its empty submission folder
_REFERENCES: dict[tuple, tuple[Session, Path]] = {}


def reference_session(limits: Limits, trusted: tuple[str, ...] = (), template=None) -> Session:
    """A child that runs only the grader's references, for speed tests: started
    once per process and limits, and reused (no student code ever runs in it).
    A batch worker forked from a process that holds one starts its own: the
    inherited copy shares its pipes with the parent, and the parent ends it.  ``trusted``: the
    folders of a declared part's reference, besides the grader's own."""
    # It lives as long as the process: the per-session time and CPU budgets are for student code.
    limits = replace(limits, total_timeout_s=7 * 24 * 3600.0, cpu_s=None)
    key = (limits, tuple(trusted))
    held = _REFERENCES.get(key)
    if held is not None and held[0].owner != os.getpid():
        held = None  # inherited through fork: left as it is (collecting it here touches nothing)
    if held is not None and not held[0].alive:
        held[0].restart()
    if held is None:
        empty = Path(tempfile.mkdtemp(prefix="grader-references-"))
        held = (Session(empty, limits, trusted=trusted, template=template), empty)
        _REFERENCES[key] = held
        atexit.register(_close_reference, key)
        # a batch worker (multiprocessing) leaves through os._exit, past atexit: its finalizers still run
        multiprocessing.util.Finalize(None, _close_reference, args=(key,), exitpriority=0)
    return held[0]


def _close_reference(key: tuple) -> None:
    held = _REFERENCES.get(key)
    if held is not None and held[0].owner == os.getpid():
        del _REFERENCES[key]
        held[0].close()
        shutil.rmtree(held[1], ignore_errors=True)


def start_transfer(root: Path, cfg: config_module.Config, seed: int, device: str, limits: Limits, truth=None):
    """Begin the transfer part in the background (see ``checks.transfer.Started``).  In student
    mode (a public ``truth``) the task is the practice split and the reference's results come
    precomputed."""
    from grader.checks.transfer import Started, Task

    if truth is not None and truth.public:
        return Started(root, limits, seed, device, Task.practice(truth.data), hidden=hidden_folders(),
                       protected=protected_paths(cfg), precomputed=truth.data)
    task = Task.from_spec(cfg.transfer_task, seed=seed) if cfg.transfer_task else None
    return Started(root, limits, seed, device, task, hidden=hidden_folders(), protected=protected_paths(cfg))


def part_session(root: Path, cfg: config_module.Config, limits: Limits, template=None) -> Session:
    """A numpy part's sandbox child: the references hidden, the grader's files protected,
    the assignment's forbidden modules refused; forked from ``template`` when given."""
    return Session(root, limits, hidden=hidden_folders(), protected=protected_paths(cfg),
                   rules=Rules(forbidden_modules=cfg.forbidden), template=template)


def d2l_session(root: Path, cfg: config_module.Config, limits: Limits, harness: Path) -> Session:
    """A d2l part's sandbox child: like a numpy part's, with torch preloaded and allowed (and the
    native code it loads as it goes), the folder of its ``harness`` readable, and the memory torch needs."""
    forbidden = tuple(m for m in cfg.forbidden if m.split(".")[0] != "torch")
    limits = replace(limits, memory_mb=None if limits.memory_mb is None else max(limits.memory_mb, 4096))
    # torch's first backward through an indexed assignment (d2l's Y[i, j] = ...) imports sympy: 1-2 s, at start
    return Session(root, limits, preload=("numpy", "torch", "torch.fx.experimental.symbolic_shapes"),
                   hidden=hidden_folders(), protected=protected_paths(cfg),
                   rules=Rules(forbidden_modules=forbidden, native_code=True, readable=(str(harness),)))


class Prestarted:
    """The numpy parts' sandbox children and the references' child (for the speed tests),
    started two at a time in the background when grading starts.  Each child takes 0.1 s or
    more to start (mostly importing numpy); one after another, the parts waited for each in
    turn.  Nothing of the student's runs until a part takes its child and calls into it.
    ``settle`` waits for every start, so that no child is starting while a speed test times.

    With two children or more to start, and no template of the process's own (a batch
    worker's, ``warm.shared``), one warm template is started first and every child is forked
    from it (a clone takes milliseconds; numpy is imported once); ``close`` ends it."""

    def __init__(self, root: Path, parts: Sequence[str], cfg: config_module.Config, limits: Limits,
                 references: bool = True):
        from concurrent.futures import ThreadPoolExecutor

        from grader.sandbox import warm

        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="grader-start")
        own = (len(parts) + bool(references) >= 2 and not warm.switched_off()
               and warm.shared(("numpy",), limits.threads) is None)
        self._template = self._pool.submit(warm.Template, ("numpy",), limits.threads) if own else None

        def template():  # (a template that failed to start: the children start cold)
            return self._template.result() if self._template is not None and not self._template.exception() else None

        self._sessions = {part: self._pool.submit(lambda: part_session(root, cfg, limits, template()))
                          for part in parts}
        self._references = self._pool.submit(lambda: reference_session(limits, template=template())) \
            if references else self._pool.submit(lambda: None)
        self._pool.shutdown(wait=False)  # the threads end with their starts

    def take(self, part: str) -> Session:
        """This part's child (started here), or its start's exception; a part never taken is closed by ``close``."""
        return self._sessions.pop(part).result()

    def references(self) -> Session:
        return self._references.result()

    def settle(self) -> None:
        for future in (*self._sessions.values(), self._references):
            future.exception()

    def close(self) -> None:
        """End the children no part took (a part the grader could not grade, an interruption)."""
        for future in self._sessions.values():
            if not future.cancel() and future.exception() is None:
                future.result().close()
        self._sessions.clear()
        self._references.exception()  # (the references' child lives on: reference_session owns it)
        if self._template is not None and self._template.exception() is None:
            self._template.result().close()  # (its clones are this process's children: they live on)
