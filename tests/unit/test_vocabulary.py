"""One vocabulary: SPEC.md's closed value sets are written once, in ``domain/vocabulary.py``.

Given the sources of ``domain/``, ``schemas/`` and the codec, when their string literals are
read, then no ``Literal[...]`` spells a value outside the vocabulary and no set, tuple, list or
dict keys repeat a whole closed set; and the pydantic models, the engine and the codec's fast
path use the vocabulary's own objects.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, get_args

import pytest

from leadsla.codec import inputs as decoding
from leadsla.domain import engine, events, vocabulary
from leadsla.schemas import inputs, outputs

ROOT = Path(__file__).resolve().parents[2]


def _sources() -> list[Path]:
    found = [
        *sorted((ROOT / "domain").glob("*.py")),
        *sorted((ROOT / "schemas").glob("*.py")),
        *sorted((ROOT / "leadsla").glob("codec*.py")),
        *sorted((ROOT / "leadsla").glob("codec/*.py")),
        ROOT / "leadsla" / "policy_file.py",
    ]
    return [p for p in found if p.name != "vocabulary.py"]


def _closed_sets() -> dict[str, frozenset[object]]:
    sets: dict[str, frozenset[object]] = {}
    for name in dir(vocabulary):
        value = getattr(vocabulary, name)
        args = get_args(value)
        if name[0].isupper() and len(args) > 1 and all(isinstance(a, str) for a in args):
            sets[name] = frozenset(args)
    return sets


def _strings(nodes: list[ast.expr]) -> frozenset[object] | None:
    if len(nodes) < 2 or not all(
        isinstance(n, ast.Constant) and isinstance(n.value, str) for n in nodes
    ):
        return None
    return frozenset(n.value for n in nodes if isinstance(n, ast.Constant))


def _offences(path: Path, closed: dict[str, frozenset[object]]) -> list[str]:
    found: list[str] = []
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "Literal"
        ):
            inner = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if any(isinstance(n, ast.Constant) and isinstance(n.value, str) for n in inner):
                found.append(f"{where}:{node.lineno}: a Literal of strings outside the vocabulary")
        elements: list[ast.expr] | None = None
        if isinstance(node, ast.Set | ast.Tuple | ast.List):
            elements = node.elts
        elif isinstance(node, ast.Dict):
            elements = [k for k in node.keys if k is not None]
        values = None if elements is None else _strings(elements)
        if values is not None:
            for name, members in closed.items():
                if values == members:
                    line = getattr(node, "lineno", 0)
                    found.append(f"{where}:{line}: repeats vocabulary.{name}")
    return found


def test_no_closed_set_is_written_twice() -> None:
    closed = _closed_sets()
    assert {"Priority", "Category", "BreachReason", "OutputType", "InputType"} <= set(closed)

    offences = [o for path in _sources() for o in _offences(path, closed)]

    assert offences == []


def test_the_check_sees_a_repeated_set_and_a_stray_literal(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        'from typing import Literal\nX = Literal["a"]\nY = ("urgent", "high", "normal", "low")\n'
    )

    found = _offences(bad, _closed_sets())

    assert [o.split(": ", 1)[1] for o in found] == [
        "a Literal of strings outside the vocabulary",
        "repeats vocabulary.Priority",
    ]


@pytest.mark.parametrize(
    ("model", "field", "alias"),
    [
        (inputs.LeadCreatedData, "priority", vocabulary.Priority),
        (inputs.LeadCreatedData, "category", vocabulary.Category),
        (inputs.LeadCreatedData, "customer_status", vocabulary.CustomerStatus),
        (inputs.LeadCreatedData, "consent", vocabulary.Consent),
        (inputs.OwnerAssignedData, "owner_kind", vocabulary.OwnerKind),
        (inputs.ActivityLoggedData, "actor_kind", vocabulary.ActorKind),
        (inputs.ActivityLoggedData, "direction", vocabulary.Direction),
        (inputs.StatusChangedData, "status", vocabulary.LeadStatus),
        (outputs.TimerData, "clock", vocabulary.Clock),
        (outputs.PreBreachWarningData, "reason", vocabulary.WarningReason),
        (outputs.BreachedData, "breach_reason", vocabulary.BreachReason),
        (outputs.EscalationTaskData, "assignee_role", vocabulary.AssigneeRole),
        (outputs.EscalationTaskData, "level", vocabulary.EscalationLevel),
        (outputs.ReviewRequestedData, "reason", vocabulary.ReviewReason),
        (outputs.TaskClosedData, "reason", vocabulary.TaskCloseReason),
        (outputs.MeasuredData, "status", vocabulary.FactStatus),
        (outputs.MeasuredData, "intent", vocabulary.Intent),
        (outputs.OwnershipGapData, "missing", vocabulary.GapMissing),
        (outputs.AlertRetractedData, "retracted_type", vocabulary.RetractableType),
    ],
)
def test_the_wire_models_use_the_domain_sets(model: Any, field: str, alias: object) -> None:
    assert model.model_fields[field].annotation == alias


def test_the_models_types_and_topics_are_the_vocabulary_types() -> None:
    assert tuple(inputs.INPUT_MODELS) == vocabulary.INPUT_TYPES
    assert tuple(outputs.OUTPUT_MODELS) == vocabulary.OUTPUT_TYPES
    for type_, model in (*inputs.INPUT_MODELS.items(), *outputs.OUTPUT_MODELS.items()):
        assert get_args(model.model_fields["type"].annotation) == (type_,)
    assert set(outputs.OUTPUT_TOPICS) | {outputs.RETRACTION_TYPE} == set(vocabulary.OUTPUT_TYPES)
    assert set(events.TYPE_NAME.values()) == set(vocabulary.INPUT_TYPES)
    assert set(get_args(vocabulary.RetractableType)) == engine.ALERT_TYPES | engine.TASK_TYPES


@pytest.mark.parametrize(
    "name",
    [
        "PRIORITIES",
        "INTENTS",
        "CATEGORIES",
        "CUSTOMER_STATUSES",
        "CONSENTS",
        "OWNER_KINDS",
        "ACTOR_KINDS",
        "DIRECTIONS",
        "LEAD_STATUSES",
        "CURRENT_SCHEMA_VERSION",
    ],
)
def test_the_codec_fast_path_checks_the_domain_sets(name: str) -> None:
    assert getattr(decoding, name) is getattr(vocabulary, name)


def test_each_type_constant_spells_its_own_type() -> None:
    constants = {
        vocabulary.LEAD_CREATED: vocabulary.LeadCreatedType,
        vocabulary.LEAD_UPDATED: vocabulary.LeadUpdatedType,
        vocabulary.OWNER_ASSIGNED: vocabulary.OwnerAssignedType,
        vocabulary.ACTIVITY_LOGGED: vocabulary.ActivityLoggedType,
        vocabulary.STATUS_CHANGED: vocabulary.StatusChangedType,
        vocabulary.BREACH_RESOLVED: vocabulary.BreachResolvedType,
        vocabulary.TIMER_STARTED: vocabulary.TimerStartedType,
        vocabulary.TIMER_UPDATED: vocabulary.TimerUpdatedType,
        vocabulary.WARNING: vocabulary.PreBreachWarningType,
        vocabulary.BREACHED: vocabulary.BreachedType,
        vocabulary.ESCALATION: vocabulary.EscalationTaskType,
        vocabulary.REVIEW: vocabulary.ReviewRequestedType,
        vocabulary.TASK_CLOSED: vocabulary.TaskClosedType,
        vocabulary.RESPONSE: vocabulary.ResponseRecordedType,
        vocabulary.STALE: vocabulary.StaleLeadType,
        vocabulary.GAP: vocabulary.OwnershipGapType,
        vocabulary.EXCLUDED: vocabulary.ExcludedType,
        vocabulary.RETRACTED: vocabulary.AlertRetractedType,
        vocabulary.MEASURED: vocabulary.MeasuredType,
    }

    assert all(get_args(alias) == (value,) for value, alias in constants.items())
    assert set(constants) == {*vocabulary.INPUT_TYPES, *vocabulary.OUTPUT_TYPES}
