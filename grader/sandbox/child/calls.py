"""The child's side of one request: import a module (the student's by name, a trusted one by
file path), call one function ``repeat`` times on fresh copies of the arguments, time each
call alone, and send back plain data; what is not plain data stays here behind a reference.

Exceptions (SystemExit and KeyboardInterrupt too) become short messages that name the
submission file and line.  Nothing here is a security boundary: student code runs in this
process and can reach and change every object of this file.  What the child notices here
(lying objects, changed inputs, replaced functions) goes to the parent through the guard's
channel (``sys.audit("grader.event", ...)``), which student code cannot take back.
Standard library only: loaded by path by ``main.py``.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import operator
import os
import socket
import sys
import time
import types

import _grader_child_failures as failures  # a sibling, loaded by main.py

_perf_counter = time.perf_counter  # bound now: a student patching time.perf_counter changes nothing here
MAX_NOTES = 20
MAX_STAND_INS = 16  # missing libraries given a stand-in per import
RECV_AHEAD_BYTES = 1 << 16  # a read from the parent takes up to this much at once
JOINED_REPLY_BYTES = 1 << 18  # a reply up to this size is copied into one buffer and sent in one write
# The first MemoryError reserve (``Child.reserve``), made as this file loads: a warm template's children
# share its zeroed pages (never written) instead of each zeroing a megabyte of its own.
_RESERVE: bytearray | None = bytearray(1 << 20)


def _take_reserve() -> bytearray:
    """The reserve made as this file loaded, once (nothing else keeps it: freeing it frees it), then new ones."""
    global _RESERVE
    reserve, _RESERVE = _RESERVE, None
    return reserve if reserve is not None else bytearray(1 << 20)


def _prefixes(name: str) -> list[str]:
    """``a``, ``a.b``, ``a.b.c`` for ``a.b.c``."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _package_holding(name: str, module_name: str) -> str | None:
    """The package of the graded module when the missing top-level module ``name`` is a file of that
    package (``from fast_layers import *`` in cs231n/layers.py, written for Python 2), else None."""
    package = module_name.rpartition(".")[0]
    if not package or "." in name:
        return None
    for folder in getattr(sys.modules.get(package), "__path__", None) or ():
        if os.path.isfile(os.path.join(folder, name + ".py")) or os.path.isdir(os.path.join(folder, name)):
            return package
    return None


class _StandIn(types.ModuleType):
    """A library that is not installed: importing it and its names works, using them raises."""

    def __init__(self, name: str):
        super().__init__(name)
        self.__path__ = []  # a package: its submodules import as stand-ins too

    def __getattr__(self, attribute: str):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return _Unavailable(f"{self.__name__}.{attribute}")


class _Unavailable:
    def __init__(self, name: str):
        self._name = name

    def __call__(self, *args, **kwargs):
        raise ModuleNotFoundError(f"{self._name} is not installed in the grader's sandbox (your code imported it, "
                                  "and the graded functions use it)")

    def __getattr__(self, attribute: str):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return _Unavailable(f"{self._name}.{attribute}")


class _Forbidden(types.ModuleType):
    """A forbidden library as the sandbox gives it: importing it (and its submodules and names)
    works, so that a file that imports it and never uses it in the graded code still loads; any
    use (a call, an index, iterating, truth, setting or deleting a name) is reported as using a
    forbidden library, which zeroes the part, and raises.  Nothing of the real library is in it."""

    def __init__(self, name: str):
        super().__init__(name)
        self.__path__ = []  # a package: its submodules import as more of these (_ForbiddenFinder)

    def __getattr__(self, attribute: str):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return _ForbiddenName(f"{self.__name__}.{attribute}")

    def __setattr__(self, attribute: str, value) -> None:
        # the import system sets a module's dunders, and binds each submodule imported to its parent
        if attribute.startswith("__") or isinstance(value, _Forbidden):
            return super().__setattr__(attribute, value)
        _ForbiddenName._used(f"{self.__name__}.{attribute} (set)")

    def __delattr__(self, attribute: str) -> None:
        _ForbiddenName._used(f"{self.__name__}.{attribute} (deleted)")


class _ForbiddenName:
    """A name read from a forbidden library: see ``_Forbidden``."""

    __slots__ = ("_name",)

    @staticmethod
    def _used(name: str):
        """Report a use through the guard's channel at once (before anything else can break), then
        refuse it.  Kept in the class, with ``sys`` read at the call: no module-level function of the
        child's that student code could rebind sits on this path."""
        sys.audit("grader.event", "forbidden-import", f"used a forbidden library: {name}"[:400])
        raise ModuleNotFoundError(f"not allowed in the grader's sandbox: {name} belongs to a forbidden library "
                                  "(importing it costs nothing; using it costs the part)")

    def __init__(self, name: str):
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attribute: str):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return _ForbiddenName(f"{object.__getattribute__(self, '_name')}.{attribute}")

    def __setattr__(self, attribute: str, value) -> None:
        _ForbiddenName._used(f"{object.__getattribute__(self, '_name')}.{attribute} (set)")

    def __call__(self, *args, **kwargs):
        _ForbiddenName._used(object.__getattribute__(self, "_name"))

    def __getitem__(self, key):
        _ForbiddenName._used(object.__getattribute__(self, "_name"))

    def __iter__(self):
        _ForbiddenName._used(object.__getattribute__(self, "_name"))

    def __bool__(self):
        _ForbiddenName._used(object.__getattribute__(self, "_name"))


class _ForbiddenFinder:
    """Serves a forbidden library, and its submodules, as stand-ins (first on ``sys.meta_path``).
    The guard lets such imports through for this, saying so; without this finder the real
    package cannot load either (its files are hidden, and reading them counts as importing it)."""

    def __init__(self, forbidden):
        self.forbidden = tuple(forbidden)

    def find_spec(self, name, path=None, target=None):
        import importlib.machinery

        for module in self.forbidden:
            if name == module or name.startswith(module + "."):
                return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        # said here too: importlib.import_module raises no "import" audit event for the guard to see
        sys.audit("grader.event", "stand-in", f"imported {spec.name}, a forbidden library: the sandbox's "
                  "stand-in took its place"[:400])
        return _Forbidden(spec.name)

    def exec_module(self, module) -> None:
        pass


def _stand_in_code() -> tuple:
    """The code of everything a forbidden library's stand-in runs: compared after each call, so that
    disarming it (to use it unreported) is reported itself."""
    return tuple((kind, name, getattr(vars(kind).get(name), "__code__", None))
                 for kind in (_Forbidden, _ForbiddenName, _ForbiddenFinder) for name in sorted(vars(kind))
                 if callable(vars(kind)[name])) + (("_used", _ForbiddenName._used.__code__),)


def _stand_in_snapshot() -> tuple:
    """What ``_stand_ins_untouched`` compares against: each stand-in class's namespace (its keys and
    values, by identity) and the code of each of its functions, as loaded."""
    spaces = tuple((kind, tuple(vars(kind)), tuple(vars(kind).values()))
                   for kind in (_Forbidden, _ForbiddenName, _ForbiddenFinder))
    functions = [v for _, _, values in spaces for v in values if type(v) is types.FunctionType]
    functions.append(_ForbiddenName._used)
    return spaces, tuple((f, f.__code__) for f in functions)


def _stand_ins_untouched(snapshot) -> bool:
    """True when nothing of the stand-ins changed since ``snapshot`` (the same names bound to the same
    objects, every function with its code): then ``_stand_in_code()`` is what it was, and is not
    worked out again (a few microseconds instead of tens, every call).  False says only "look again"."""
    spaces, codes = snapshot
    is_ = operator.is_
    for kind, keys, values in spaces:
        space = vars(kind)
        if len(space) != len(keys) or not all(map(is_, space, keys)) or not all(map(is_, space.values(), values)):
            return False
    return all(f.__code__ is code for f, code in codes)


def stand_in_forbidden(forbidden) -> None:
    """Serve each forbidden library as a stand-in (``_Forbidden``), from before any student code runs."""
    if forbidden and not any(isinstance(f, _ForbiddenFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _ForbiddenFinder(forbidden))


class Child:
    """One child's requests, its references and its reports (see the module docstring)."""

    def __init__(self, config: dict, channel: socket.socket, wire, own_files, watch=None):
        self.config = config
        self.channel = channel
        self.wire = wire
        self.failures = failures.Failures(config["folder"], own_files, config["limits"].get("memory_mb"))
        self.max_result_bytes = config["max_result_bytes"]
        self.refs: dict[int, object] = {}
        self.trusted_packages: dict[str, str] = {}
        self.notes: list[str] = []
        self.watch = watch  # a Watch, or None (no guard: nothing to report)
        self.reserve = _take_reserve()  # given back on MemoryError, so that reporting it has room
        self.stand_ins = (_Forbidden, _stand_in_code())  # as loaded, before any student code
        self._stand_in_snapshot = _stand_in_snapshot()
        self._loaded: tuple[set, set] | None = None  # (sys.modules' names, loaded_modules()) when last asked
        self.seq = 0  # the number of the next reply ("ready" is 0)
        self._inbox = bytearray()  # bytes read from the parent and not yet taken
        self._ahead = bytearray(RECV_AHEAD_BYTES)

    # --- requests and replies

    def recv(self):
        header = self._recv_exactly(self.wire.FRAME_HEADER.size)
        if header is None:
            return None
        (length,) = self.wire.FRAME_HEADER.unpack(header)
        return self._recv_exactly(length)

    def _recv_exactly(self, n: int):
        """The next ``n`` bytes from the parent.  What one read brings beyond them is kept for the next
        (the parent sends a request and its arguments in one write: one read, not four, takes both)."""
        inbox = self._inbox
        if len(inbox) >= n:
            buffer = inbox[:n]
            del inbox[:n]
            return buffer
        if not inbox and n < RECV_AHEAD_BYTES:
            count = self.channel.recv_into(self._ahead)
            if not count:
                return None
            inbox += self._ahead[:count]
            return self._recv_exactly(n)
        buffer = bytearray(n)
        view, got = memoryview(buffer), len(inbox)
        view[:got] = inbox
        inbox.clear()
        while got < n:  # (the rest of a large frame: read straight into its place)
            count = self.channel.recv_into(view[got:])
            if not count:
                return None
            got += count
        return buffer

    def send(self, message: dict) -> None:
        message["seq"], self.seq = self.seq, self.seq + 1  # (the parent knows which reply is next)
        try:
            parts = self.wire.encode_parts(message, fallback=self.as_ref)
            size = self.wire.size(parts)
            if size > self.max_result_bytes:
                raise self.wire.WireError(
                    f"the result is too large to send back ({size} bytes; the limit is {self.max_result_bytes})"
                )
        except BaseException as exc:  # noqa: BLE001 - a student value that will not encode, however it fails
            text = str(exc) if isinstance(exc, self.wire.WireError) else failures.exception_line(exc)
            parts = self.wire.encode_parts({
                "ok": False, "value": None, "kind": "result", "traceback": None,
                "error": f"the result could not be sent back: {text}",
                "durations": message.get("durations", []), "notes": message.get("notes", []),
                "seq": message["seq"], **({"each": message["each"]} if "each" in message else {}),
            })
        framed = self.wire.frame(parts)
        if self.wire.size(framed) <= JOINED_REPLY_BYTES:  # one write, so one wake-up of the parent
            framed = [b"".join(framed)]
        for part in framed:  # (sendall: sendmsg would raise an audit event the guard refuses as network use)
            self.channel.sendall(part)

    # --- plain data out, references for the rest

    def as_ref(self, obj, encode_item):
        np = sys.modules.get("numpy")
        if np is not None and issubclass(type(obj), np.ndarray):
            base = np.ndarray.view(obj, np.ndarray)  # ndarray's own methods: the subclass cannot lie here
            if self.wire.plain_dtype(base.dtype):
                self.note(f"returned a {_type_name(obj)} (a numpy.ndarray subclass); "
                          "it was sent as a plain numpy.ndarray")
                self.record("lying-object", f"returned a {_type_name(obj)}, a numpy.ndarray subclass: "
                                            "graded as its plain array data")
                return encode_item(base)
        try:
            has_array = np is not None and hasattr(type(obj), "__array__") and not self.torch_allowed(obj)
        except BaseException:  # noqa: BLE001
            has_array = False
        if has_array:
            self.record("lying-object", f"returned a {_type_name(obj)}, not a numpy array (it only has "
                                        "__array__): it was not converted")
        ref_id = len(self.refs) + 1
        self.refs[ref_id] = obj
        return {"r": [ref_id, _type_name(obj), _describe(obj)]}

    def torch_allowed(self, obj) -> bool:
        """Whether ``obj`` is a torch tensor where torch is what the part works in (preloaded):
        a tensor that stays here behind a reference is the ordinary case there, not a lie."""
        torch = sys.modules.get("torch")
        return torch is not None and "torch" in self.config["preload"] and isinstance(obj, torch.Tensor)

    def resolve_ref(self, payload):
        ref_id, path = payload
        obj = self.refs[ref_id]  # KeyError: a malformed request
        for key in path:
            obj = obj[key]
        return obj

    def note(self, text: str) -> None:
        if len(self.notes) < MAX_NOTES and text not in self.notes:
            self.notes.append(text)

    @staticmethod
    def record(code: str, detail: str) -> None:
        """An event for the integrity tests: written to the parent by the guard, at once."""
        sys.audit("grader.event", code, failures.cap(detail))

    def loaded_modules(self) -> set:
        """The names in sys.modules and the top-level packages of all of them; worked out again only
        when the names changed since the last call (most calls import nothing)."""
        names = set(sys.modules)
        if self._loaded is None or self._loaded[0] != names:
            self._loaded = (names, {name.partition(".")[0] for name in names} | names)
        return self._loaded[1]

    def look_for_replacements(self) -> None:
        if self.watch is None:
            return
        try:  # imports that never raised the "import" audit event (importlib.import_module does not)
            loaded = self.loaded_modules()
            forbidden = tuple(self.config["rules"]["forbidden"])
            kind, code = self.stand_ins
            try:
                intact = _stand_ins_untouched(self._stand_in_snapshot) or _stand_in_code() == code
            except BaseException:  # noqa: BLE001 - broken by student code: not intact
                intact = False
            if not intact:  # (straight to the guard: the child's own helpers may be disarmed too)
                sys.audit("grader.event", "forbidden-import", ("disarmed the sandbox's stand-ins for the forbidden "
                          "libraries (" + ", ".join(forbidden) + "), so that using them would go unreported")[:400])
            for module in forbidden:
                if type(sys.modules.get(module)) is kind:  # noqa: E721 - the sandbox's stand-in, exactly
                    continue  # its use is reported where it happens
                if module in loaded and module not in self.watch.preloaded:
                    self.record("forbidden-import", f"imported a forbidden library at run time: {module}")
        except BaseException:  # noqa: BLE001
            pass
        try:
            for name in self.watch.changes():
                self.record("monkeypatch", f"replaced {name}")
        except BaseException:  # noqa: BLE001 - a student object that breaks the lookup: that is tampering too
            self.record("monkeypatch", "changed numpy, torch or builtins so that they cannot be inspected")

    # --- one request

    def handle(self, request: dict) -> dict:
        self.notes = []
        reply = {"ok": False, "value": None, "error": None, "kind": None, "traceback": None,
                 "durations": [], "notes": self.notes}
        try:
            return self._handle(request, reply)
        finally:
            if not reply.get("answered"):
                self.look_for_replacements()

    def _handle(self, request: dict, reply: dict) -> dict:
        trusted, module_name = request["trusted"], request["module"]
        shown = os.path.basename(trusted) if trusted else failures.display(module_name)
        try:
            module = self.load_trusted(trusted) if trusted else self.import_submission(module_name)
        except BaseException as exc:  # noqa: BLE001
            self.fail(reply, exc, importing=shown, module_name=module_name)
            return reply
        try:
            function = getattr(module, request["function"], None)
        except BaseException:  # noqa: BLE001 - a module __getattr__ that raises
            function = None
        if function is None or not callable(function):
            what = "defines no" if function is None else "has a non-callable"
            reply.update(kind="import", error=f"{shown} {what} function {request['function']!r}")
            return reply
        try:
            if request.get("each"):
                self.call_each(function, request, reply, trusted)
                return reply  # (answered, call by call)
            for i in range(request["repeat"]):
                reply["value"] = None
                args, kwargs = self.wire.decode(request["args"], ref=self.resolve_ref)  # fresh copies every time
                start = _perf_counter()
                value = function(*args, **kwargs)
                reply["durations"].append(_perf_counter() - start)
                reply["value"] = value
                if i == 0 and not trusted:
                    self.look_for_changed_inputs(function, request, args, kwargs)
            reply["ok"] = True
        except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt are the student's too
            reply["value"] = None
            self.fail(reply, exc)
        finally:
            _flush_streams()
        return reply

    def call_each(self, function, request: dict, reply: dict, trusted) -> None:
        """``function`` on each (args, kwargs) of a list, in order, each once and each as if alone, each
        answered as it returns (a reply of its own, ``"each"`` its index, its value a body encoded
        then, so that what it leaves here behind a reference, and its notes, are its own).  A call
        that raised is answered like any other and the next is made; one that exited or ran out of
        memory is the last.  Where a return cannot be sent (too large, too deep: whatever ``send``
        refuses) the calls stop with a reply that asks the parent to make them alone (``"alone"``),
        which tells that failure as it is.  ``reply`` is then already answered."""
        items = self.wire.decode(request["args"], ref=self.resolve_ref)
        if type(items) is not list or not all(type(item) is tuple and len(item) == 2 and type(item[0]) is tuple
                                              and type(item[1]) is dict for item in items):
            raise ValueError("malformed request: each needs a list of (args, kwargs)")
        reply["answered"] = True
        room, fresh = self.max_result_bytes, None
        try:
            for i, (args, kwargs) in enumerate(items):
                one = {"ok": False, "value": None, "error": None, "kind": None, "traceback": None,
                       "durations": [], "notes": [], "each": i}
                self.notes = one["notes"]
                try:
                    start = _perf_counter()
                    value = function(*args, **kwargs)
                    one["durations"].append(_perf_counter() - start)
                    one["ok"] = True
                except BaseException as exc:  # noqa: BLE001 - the student's, as for one call
                    value = None
                    self.fail(one, exc)
                if one["ok"]:
                    if not trusted:
                        if fresh is None:  # (fresh copies of every call's arguments, decoded once)
                            fresh = self.wire.decode(request["args"], ref=self.resolve_ref)
                        self.look_for_changed_inputs(function, request, args, kwargs, fresh=fresh[i])
                    try:
                        one["value"] = self.wire.encode(value, fallback=self.as_ref)
                        room -= len(one["value"])
                    except BaseException:  # noqa: BLE001 - told as it is when made alone
                        room = -1
                    if room < 0:
                        self.send(dict(one, ok=False, value=None, alone=True, each=None))
                        return
                value = None
                last = i == len(items) - 1 or one["kind"] in ("exit", "memory")
                if last:
                    self.look_for_replacements()  # (what it finds is told with the last call, as each call's is)
                _flush_streams()  # (what it printed reaches the parent before its answer)
                self.send(one)
                if last:
                    return
        finally:
            self.notes = reply["notes"]

    def import_submission(self, module_name: str):
        """Import the student's module.  A library it imports that is not installed here and is
        neither forbidden nor part of the submission (IPython, matplotlib, a module gone from
        numpy: what a notebook or a debugging session left at the top of a file) gets a
        stand-in, so that a file whose graded functions never use it still imports; the
        stand-in raises, naming the library, where the code does use it."""
        rules = self.config.get("rules")
        stand_in_forbidden(tuple(rules["forbidden"]) if rules else ())
        for _ in range(MAX_STAND_INS + 1):
            try:
                return importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                name = exc.name if isinstance(exc.name, str) else ""
                if not self.may_stand_in(name, module_name):
                    raise
                for part in _prefixes(name):
                    sys.modules.setdefault(part, _StandIn(part))
                package = _package_holding(name, module_name)
                if package:
                    self.note(f"your code imports {name} as a top-level module, but {name}.py sits beside it in "
                              f"the {package} package: `from {name} import ...` is a Python 2 implicit relative "
                              f"import, which Python 3 does not do; write `from .{name} import ...` (a stand-in "
                              "took its place: what your graded functions use from it is undefined or raises)")
                elif not any(n.startswith(f"your code imports {name.split('.')[0]}, ") for n in self.notes):
                    # (matplotlib.pyplot after matplotlib: one note for the library)
                    self.note(f"your code imports {name}, which is not installed in the grader's sandbox: a "
                              "stand-in took its place (it raises if your graded functions use it)")
        return importlib.import_module(module_name)

    def may_stand_in(self, name: str, module_name: str) -> bool:
        """Whether the missing ``name`` gets a stand-in: never the graded module itself (nor its
        package), a module of the submission, a forbidden library or the grader."""
        if not name or name in sys.modules or not self.failures.missing(name):
            return False
        if (module_name + ".").startswith(name + "."):
            return False
        # (a package a forbidden module sits in, scipy for scipy.signal, may: the forbidden module itself is
        # still served by _ForbiddenFinder, first on sys.meta_path)
        forbidden = self.config["rules"]["forbidden"]
        return not any(name == m or name.startswith(m + ".") for m in forbidden) \
            and not name.startswith(("grader", "_grader"))

    def look_for_changed_inputs(self, function, request: dict, args, kwargs, fresh=None) -> None:
        """Record the array arguments that ``function`` changed in place (the grader hands every
        call fresh copies, so this changes no score; it is a bug in a layer all the same).
        ``fresh``: (args, kwargs) as they came, where the caller has them (else decoded again)."""
        try:
            fresh_args, fresh_kwargs = fresh or self.wire.decode(request["args"], ref=self.resolve_ref)
            names = None  # (inspect.signature costs more than the rest of a call here: only for a change)
            for i, (used, fresh) in enumerate(zip(args, fresh_args)):
                if _changed(used, fresh):
                    names = _parameter_names(function) if names is None else names
                    name = names[i] if i < len(names) else f"argument {i + 1}"
                    self.record("mutated-input", f"{request['function']} changed its input {name} in place")
            for key, fresh in fresh_kwargs.items():
                if _changed(kwargs.get(key), fresh):
                    self.record("mutated-input", f"{request['function']} changed its input {key} in place")
        except BaseException:  # noqa: BLE001 - an argument the student replaced with something odd
            pass

    def load_trusted(self, path: str):
        """Import the file ``path`` as ``<package>.<stem>``; relative imports find its siblings."""
        folder, stem = os.path.dirname(path), os.path.splitext(os.path.basename(path))[0]
        package = self.trusted_packages.get(folder)
        if package is None:
            package = f"_grader_trusted_{len(self.trusted_packages)}"
            spec = importlib.machinery.ModuleSpec(package, None, is_package=True)
            spec.submodule_search_locations = [folder]
            module = types.ModuleType(package)
            module.__spec__, module.__path__, module.__package__ = spec, [folder], package
            sys.modules[package] = module
            self.trusted_packages[folder] = package
        return importlib.import_module(f"{package}.{stem}")

    # --- what went wrong, for a student (the words: failures.py)

    def fail(self, reply: dict, exc: BaseException, importing: str | None = None,
             module_name: str | None = None) -> None:
        if isinstance(exc, MemoryError):
            self.reserve = None
        try:
            reply["error"], reply["kind"] = self.failures.message(exc, importing, module_name)
            reply["traceback"] = self.failures.format_traceback(exc)
        except BaseException as again:  # noqa: BLE001 - a student exception whose __str__ fails, etc.
            reply["error"] = f"{type(exc).__name__} (and describing it failed: {type(again).__name__})"
            reply["kind"] = "exception"
        finally:
            exc.__traceback__ = None
            if self.reserve is None:
                try:
                    self.reserve = bytearray(1 << 20)
                except MemoryError:
                    pass

# ---------------------------------------------------------------- helpers


def _type_name(obj) -> str:
    cls = type(obj)
    try:
        name = f"{cls.__module__}.{cls.__qualname__}"
    except BaseException:  # noqa: BLE001
        name = "object"
    name = name.removeprefix("builtins.")
    return failures.cap(name if isinstance(name, str) else "object")


def _describe(obj) -> str:
    """A short, safe description of a value that is not plain data."""
    name = _type_name(obj)
    try:
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(obj, torch.Tensor):
            return f"a {name} of shape {tuple(obj.shape)} and dtype {obj.dtype}"
        np = sys.modules.get("numpy")
        if np is not None and issubclass(type(obj), np.ndarray):
            return f"a numpy array of dtype {np.ndarray.view(obj, np.ndarray).dtype} (not plain data)"
    except BaseException:  # noqa: BLE001
        pass
    return f"an object of type {name}"


def _parameter_names(function) -> list[str]:
    try:
        import inspect

        return list(inspect.signature(function).parameters)
    except BaseException:  # noqa: BLE001
        return []


def _changed(used, fresh) -> bool:
    """Whether an argument array (or one inside a tuple, list or dict) no longer equals its fresh copy."""
    np = sys.modules.get("numpy")
    if np is not None and type(fresh) is np.ndarray:
        return not (type(used) is np.ndarray and used.shape == fresh.shape and used.dtype == fresh.dtype
                    and used.tobytes() == fresh.tobytes())
    if type(fresh) in (tuple, list):
        return type(used) is not type(fresh) or len(used) != len(fresh) or any(map(_changed, used, fresh))
    if type(fresh) is dict:
        return type(used) is not dict or used.keys() != fresh.keys() or any(_changed(used[k], fresh[k]) for k in fresh)
    if type(fresh) in (int, float, str, bytes, bool, type(None)):  # NaN equals NaN here
        return type(used) is not type(fresh) or (used != fresh and not (used != used and fresh != fresh))
    return False


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass
