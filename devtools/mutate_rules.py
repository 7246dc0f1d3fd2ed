"""Mutation check of the acceptance suite: break one SPEC rule at a time in domain/engine.py and
confirm that `pytest tests/acceptance` fails. Not part of `make test` (about 2 minutes).

    .venv/bin/python devtools/mutate_rules.py

The engine file is always restored, also when this script is interrupted. The suite runs the
pure Python modules (LEADSLA_PURE=1): a compiled engine (setup.py, mypyc) would not see the
mutated source.
"""

import atexit
import os
import pathlib
import subprocess
import sys

p = pathlib.Path(__file__).resolve().parent.parent / "domain" / "engine.py"
orig = p.read_text()
atexit.register(lambda: p.write_text(orig))
muts = {
    "r01 clock from created_at": (
        "        self.created_at = e.occurred_at\n",
        "        self.created_at = e.occurred_at + 60_000_000\n",
    ),
    "r02 automation counts": (
        '            e.actor_kind != "person"\n            or e.kind in _AUTOMATED_KINDS',
        "            e.kind in _AUTOMATED_KINDS",
    ),
    "r03 within_sla strict": (
        "self.within_sla = responded <= self.due_pt",
        "self.within_sla = responded < self.due_pt",
    ),
    "r04 warning reason": (
        'recipient, reason = self.manager_id, "no_owner"',
        'recipient, reason = self.manager_id, "owner_no_action"',
    ),
    "r05 reason order": (
        '        if self.person_touch_at is not None and self.person_touch_at <= due:\n            return "non_meaningful_activity_only"\n',
        "",
    ),
    "r06 level2 to backup": (
        '            self._escalate(at, 2, self.manager_id, "manager")',
        '            self._escalate(at, 2, self.backup_id or self.manager_id, "manager")',
    ),
    "r07 review routing off": (
        "        routed_to_review = self.category in self.policy.review_categories",
        "        routed_to_review = False",
    ),
    "r08 consent hold off": (
        "        self.consent_hold = True\n",
        "        self.consent_hold = False\n",
    ),
    "r09 breach hidden by close": (
        "    if reason in _UNHIDING_STATUSES:",
        "    if True:",
    ),
    "r10 no gap": (
        "        if person and self.backup_id is None and e.owner_id not in self.gaps:",
        "        if False:",
    ),
    "r11 stale for all intents": (
        'unanswered and not self.stale and self.intent == "high"',
        "unanswered and not self.stale",
    ),
    "r12 priority ignored": (
        '        if e.priority is not None and e.priority != self.priority and self.phase == "open":',
        "        if False:",
    ),
    "r13 timers before inputs": (
        "            self._fire_timers(t, inclusive=False)",
        "            self._fire_timers(t, inclusive=True)",
    ),
    "r15 duplicates applied": (
        "            unique[event.event_id] = event",
        '            unique[f"{event.event_id}#{len(unique)}"] = event',
    ),
    "r16 resolve without breach": (
        "        if self.phase not in _BREACHED:\n            self.rejected.append(",
        "        if False:\n            self.rejected.append(",
    ),
}
for name, (a, b) in muts.items():
    assert a in orig, name
    p.write_text(orig.replace(a, b, 1))
    # (restored below, and on any exit)
    try:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "tests/acceptance",
                "-q",
                "-x",
                "-p",
                "no:cacheprovider",
            ],
            capture_output=True,
            cwd=p.parent.parent,
            env={**os.environ, "LEADSLA_PURE": "1"},
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        print(f"{name:28} CAUGHT  (the suite did not finish in 120 s)")
        continue
    last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr[-200:]
    print(f"{name:28} {'CAUGHT' if r.returncode else 'MISSED'}  {last}")
p.write_text(orig)
