"""Properties (hypothesis): line order and repeated lines never change the output bytes."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from .runner import ReplayRunner, Result
from .scenario import (
    activity,
    approx,
    assigned,
    autoresponder,
    created,
    policy,
    rich_history,
    rich_policy,
    t,
)

HISTORY = rich_history()
NOW = t(300)
_cache: dict[str, bytes] = {}


def _replay(
    lines: Sequence[dict[str, Any] | str], policy_text: str | None = None, now: str | None = NOW
) -> Result:
    with tempfile.TemporaryDirectory(prefix="leadsla-prop-") as tmp:
        result = ReplayRunner(Path(tmp), seed=None).run(lines, policy_text or rich_policy(), now)
    assert result.exit_code == 0, result.stderr
    return result


def _reference() -> bytes:
    if "ref" not in _cache:
        _cache["ref"] = _replay(HISTORY).raw
    return _cache["ref"]


@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(st.permutations(HISTORY))
def test_rule_13_property_any_line_order_gives_the_same_bytes(
    order: list[dict[str, Any]],
) -> None:
    """Rules 13/15 + section 7: any permutation of the lines gives the same output bytes."""
    assert _replay(order).raw == _reference()


@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(st.permutations(HISTORY), st.lists(st.integers(0, len(HISTORY) - 1), min_size=1, max_size=5))
def test_rule_15_property_duplicated_lines_change_nothing(
    order: list[dict[str, Any]], repeats: list[int]
) -> None:
    """Rule 15: repeating any lines (anywhere) gives the same output bytes."""
    lines = list(order)
    for i, index in enumerate(repeats):
        lines.insert((index * 7 + i) % (len(lines) + 1), dict(HISTORY[index]))
    assert _replay(lines).raw == _reference()


@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(
    assign_at=st.one_of(st.none(), st.integers(0, 90)),
    answer_at=st.one_of(st.none(), st.integers(0, 150)),
    touch=st.booleans(),
)
def test_rule_03_property_response_within_window_never_breaches(
    assign_at: int | None, answer_at: int | None, touch: bool
) -> None:
    """Rules 2/3/5: an owner's answer at or before +60 means met and no breach; else breached."""
    events = [created(at=0)]
    if assign_at is not None:
        events.append(assigned(at=assign_at, owner="alice"))
    if touch:
        events.append(autoresponder(at=0))
    if answer_at is not None:
        events.append(activity(at=answer_at, actor="alice", kind="call"))
    r = _replay(events, policy(), now=t(200))
    fact = r.final_fact()
    if answer_at is None:
        assert fact["status"] == "breached"
        assert not r.of_type("sla.response_recorded")
        return
    # alice answers: as owner, or (unowned at that time) by taking the lead
    response = r.one("sla.response_recorded")
    assert response["data"]["response_seconds"] == approx(answer_at * 60)
    if answer_at <= 60:
        assert fact["status"] == "met"
        assert response["data"]["within_sla"] is True
        assert not r.of_type("sla.breached")
        assert not r.of_type("sla.escalation_task")
    else:
        assert fact["status"] == "breached"
        assert response["data"]["within_sla"] is False
        assert len(r.of_type("sla.breached")) == 1
    assert len(r.of_type("sla.pre_breach_warning")) == (1 if answer_at > 45 else 0)
