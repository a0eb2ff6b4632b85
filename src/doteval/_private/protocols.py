"""Whether an object provides a protocol, judged the same way on every Python.

``isinstance`` with a ``runtime_checkable`` protocol finds members with ``getattr`` up
to Python 3.11, and from 3.12 on in the class alone (``inspect.getattr_static``): a
backend that forwards to another through ``__getattr__``, as the architecture page's
example does, would be accepted on one Python and refused on the next. doteval looks
members up as a call does.
"""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeGuard, TypeVar

T = TypeVar("T")

_MISSING = object()


def provides(value: object, protocol: type[T]) -> TypeGuard[T]:
    """Whether ``value`` has every member ``protocol`` declares, found as a call finds
    it (``__getattr__`` included); each method callable."""
    for name, is_method in _members(protocol):
        found = getattr(value, name, _MISSING)
        if found is _MISSING or (is_method and not callable(found)):
            return False
    return True


def _members(protocol: type[Any]) -> tuple[tuple[str, bool], ...]:
    """The public members a protocol and the protocols it extends declare: each name,
    and whether it is a method (else an annotated attribute)."""
    members: dict[str, bool] = {}
    for base in reversed(protocol.__mro__):
        if base in (object, Protocol, Generic):
            continue
        for name in vars(base).get("__annotations__", {}):
            members.setdefault(name, False)
        for name, member in vars(base).items():
            members[name] = callable(member)
    return tuple((name, is_method) for name, is_method in members.items() if name[0] != "_")
