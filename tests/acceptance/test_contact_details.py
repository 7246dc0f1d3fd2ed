"""Section 3 (`include_contact_details`) and section 5, through `lead-sla replay` on the sample
file: the contact details the CRM sends (``display_name``, ``account_id``) reach no output
unless the policy opts in, and with the opt-in only ``display_name``, only in alerts and tasks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadsla.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ALERTS_AND_TASKS = {
    "sla.pre_breach_warning",
    "sla.breached",
    "sla.stale_lead",
    "sla.ownership_gap",
    "sla.excluded",
    "sla.escalation_task",
    "sla.review_requested",
}


def _contact_details() -> dict[str, dict[str, str]]:
    """lead_id -> the contact fields its lead.created carries in the sample file."""
    details: dict[str, dict[str, str]] = {}
    for line in (EXAMPLES / "sample-leads.jsonl").read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if event["type"] == "lead.created":
            found = {
                k: event["data"][k] for k in ("display_name", "account_id") if k in event["data"]
            }
            details[event["lead_id"]] = found
    return details


def _replay(tmp_path: Path, opt_in: bool) -> tuple[list[dict[str, object]], str]:
    policy = (EXAMPLES / "policy.toml").read_text(encoding="utf-8")
    assert "include_contact_details = true" in policy
    policy_path = tmp_path / "policy.toml"
    policy_path.write_text(
        policy.replace(
            "include_contact_details = true", f"include_contact_details = {str(opt_in).lower()}"
        )
    )
    out = tmp_path / f"out-{opt_in}.jsonl"
    argv = ["replay", str(EXAMPLES / "sample-leads.jsonl"), "--policy", str(policy_path)]
    assert main([*argv, "--now", "2026-03-03T12:00:00Z", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()], text


@pytest.mark.parametrize("opt_in", [False, True])
def test_contact_details_reach_alerts_and_tasks_only_with_the_opt_in(
    tmp_path: Path, opt_in: bool
) -> None:
    # Given the sample leads, several with a display name and an account id
    details = _contact_details()
    names = {lead: d["display_name"] for lead, d in details.items() if "display_name" in d}
    accounts = [d["account_id"] for d in details.values() if "account_id" in d]
    assert len(names) >= 5 and accounts

    # When they are replayed with and without include_contact_details
    outputs, text = _replay(tmp_path, opt_in)

    # Then no account id reaches any output
    assert not [account for account in accounts if account in text]
    # and a display name appears only with the opt-in, only in alerts and tasks, the lead's own
    carrying = [e for e in outputs if "display_name" in json.dumps(e["data"])]
    if not opt_in:
        assert carrying == []
        assert not [name for name in names.values() if name in text]
        return
    assert carrying
    alerts_and_tasks = [e for e in outputs if e["type"] in ALERTS_AND_TASKS]
    for event in carrying:
        assert event["type"] in ALERTS_AND_TASKS
    for event in alerts_and_tasks:
        data = event["data"]
        assert isinstance(data, dict)
        assert data.get("display_name") == names.get(str(event["lead_id"]))
