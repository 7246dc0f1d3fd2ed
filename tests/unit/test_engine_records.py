"""The engine builds its output records without their generated ``__new__`` (``_built``): the
same records as the classes' own constructors, of the same class, field for field."""

from __future__ import annotations

from typing import Any

import pytest

from leadsla.domain import engine
from leadsla.domain import outputs as records

BUILT = {
    name.removeprefix("_"): value
    for name, value in vars(engine).items()
    if name.startswith("_") and hasattr(records, name.removeprefix("_")) and callable(value)
}


def test_every_record_the_engine_builds_this_way_is_listed() -> None:
    assert set(BUILT) == {
        "Timer",
        "Response",
        "Review",
        "TaskClosed",
        "Stale",
        "Gap",
        "PreBreachWarning",
        "Breach",
        "Escalation",
    }


@pytest.mark.parametrize("name", sorted(BUILT))
def test_built_records_are_the_classes_own(name: str) -> None:
    cls: Any = getattr(records, name)
    fields = [f"{field}-value" for field in cls._fields]
    built = BUILT[name](*fields)
    assert type(built) is cls
    assert built == cls(*fields)
    assert built._asdict() == cls(*fields)._asdict()
    with pytest.raises(TypeError):
        BUILT[name](**dict(zip(cls._fields, fields, strict=True)))  # positional only
