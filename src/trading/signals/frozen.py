"""A cheaper ``__init__`` for the frozen, slotted dataclasses built on every decision.

A frozen dataclass's generated ``__init__`` stores each field with
``object.__setattr__(self, name, value)`` — a generic attribute lookup per field, since
its own ``__setattr__`` refuses. The strategy builds a dozen such objects per coin and
poll (snapshot, book, fair value, signals, confidences, analysis, inputs, decision), about
150 fields in all. :func:`quick_init` gives a class an ``__init__`` that stores each field
through its slot's own descriptor instead: the same values in the same slots, the same
signature and defaults, in about half the time.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from typing import Any, TypeVar

C = TypeVar("C", bound=type)


def quick_init(cls: C) -> C:
    """Replace the generated ``__init__`` of a frozen, slotted dataclass (decorate above
    ``@dataclass``). Only a class whose ``__init__`` does nothing but store its arguments
    — every field an ``init`` field with a plain default or none, positional, no
    ``__post_init__`` — is changed; any other is returned as it is. An instance of a
    subclass goes through the original ``__init__`` (it may redefine a field).
    """
    params = getattr(cls, "__dataclass_params__", None)
    if (
        params is None
        or not params.frozen
        or "__slots__" not in cls.__dict__
        or hasattr(cls, "__post_init__")
    ):
        return cls
    fields = dataclasses.fields(cls)
    if len(fields) != len(cls.__dict__["__dataclass_fields__"]) or any(
        not f.init or f.kw_only or f.default_factory is not dataclasses.MISSING
        for f in fields
    ):
        return cls  # an init=False, keyword-only or factory field, or an InitVar
    original = cls.__init__
    names = [f.name for f in fields]
    # (a field named like a helper below, "_set0" or "_cls", would shadow it)
    if list(inspect.signature(original).parameters) != ["self", *names] or any(
        name.startswith("_") for name in names
    ):
        return cls
    helpers: dict[str, Any] = {"_cls": cls, "_original": original}
    signature, body = [], []
    for i, f in enumerate(fields):
        helpers[f"_set{i}"] = cls.__dict__[f.name].__set__  # the slot's descriptor
        if f.default is dataclasses.MISSING:
            signature.append(f.name)
        else:
            helpers[f"_default{i}"] = f.default
            signature.append(f"{f.name}=_default{i}")
        body.append(f"        _set{i}(self, {f.name})")
    arguments = ", ".join(names)
    # As dataclasses builds its own: the helpers are closure variables of an outer
    # function, and the module's globals are the function's (so its annotations resolve).
    source = (
        f"def __create_init__({', '.join(helpers)}):\n"
        f"    def __init__(self, {', '.join(signature)}):\n"
        f"        if self.__class__ is not _cls:\n"
        f"            return _original(self, {arguments})\n"
        + "\n".join(body)
        + "\n    return __init__\n"
    )
    namespace: dict[str, Any] = {}
    module_globals = sys.modules[cls.__module__].__dict__
    exec(source, module_globals, namespace)  # built from the class's own field names
    init = namespace["__create_init__"](**helpers)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = dict(original.__annotations__)
    init.__doc__ = original.__doc__
    init.dataclass_init = original  # the generated one, for the tests
    cls.__init__ = init  # type: ignore[misc]
    return cls
