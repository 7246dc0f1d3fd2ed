"""Acceptance scenarios written from SPEC.md (sections 4, 5 and 7), run through a Runner.

Each test names the rule it checks (``test_rule_NN_...``, ``test_section_5_...``,
``test_section_7_...``). ``runner.py`` holds the runner-agnostic ``Runner`` protocol and the
in-process ``lead-sla replay`` implementation; ``scenario.py`` the event factories, the policy
helper and the timestamp assertions.

Readings of SPEC where it is silent (beyond the decisions recorded in the brief), each marked
ASSUMPTION in the test that relies on it:

- a warning whose point passed when a priority change made it known is stamped between the
  warning point and the update's instant (rule 4);
- a hold (consent or ownership) that ends after the deadline breaches at the instant it ends,
  with ``due_at`` the original deadline (rule 8);
- a ``closed`` status exactly at the deadline applies before the breach timer: excluded
  (rules 9 and 13);
- an exclusion status after a meaningful response leaves the lead met; an activity after an
  exclusion is not a response (rule 9);
- categories are the enumerated ones of section 2; an unknown priority, consent, owner_kind,
  actor_kind or status value is an invalid line (rule 16).
"""
