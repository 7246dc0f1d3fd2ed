"""``lead-sla report``: the manager's short list, the week's breach review, the compliance tables.

Everything is read from the read models (``lead-sla project``) with the same SQL on SQLite and
PostgreSQL; the figures come from the views of :mod:`leadsla.projections.schema`, ages and the
week are measured from ``--now`` (default: the wall clock; ``latest``: the latest fact projected).

Formats: ``table`` (text for a terminal), ``json`` (every figure; schema
``schemas/json/report.schema.json``), ``csv`` (one section, the short list by default) and
``html`` (one self-contained page with inline SVG charts, no script, no network).
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import orjson

from leadsla.arguments import positive_int

from .report_schema import Report, report_schema_document
from .store import DEFAULT_DB, Store, StoreError, mask_url

WEEK: Final = timedelta(days=7)
DEFAULT_TABLE_LIMIT: Final = 25

# Response-time distribution buckets (upper bound exclusive, seconds).
BUCKETS: Final[tuple[tuple[str, float, float | None], ...]] = (
    ("< 5 min", 0.0, 300.0),
    ("5-15 min", 300.0, 900.0),
    ("15-30 min", 900.0, 1800.0),
    ("30-60 min", 1800.0, 3600.0),
    ("1-2 h", 3600.0, 7200.0),
    ("2-4 h", 7200.0, 14400.0),
    ("4-8 h", 14400.0, 28800.0),
    ("8-24 h", 28800.0, 86400.0),
    ("1-3 days", 86400.0, 259200.0),
    ("> 3 days", 259200.0, None),
)

CSV_SECTIONS: Final = (
    "short_list",
    "compliance_by_source",
    "compliance_by_owner",
    "compliance_by_day",
    "breaches_by_reason",
    "stale_high_intent_open",
    "exclusion_rate_by_owner",
    "response_time_distribution",
)


def utc_text(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return (text[:-7] if text.endswith(".000000") else text) + "Z"


def _compliance(row: dict[str, Any]) -> dict[str, Any]:
    decided = int(row["decided"] or 0)
    met = int(row["met"] or 0)
    return {
        "leads": int(row["leads"] or 0),
        "eligible_leads": int(row["eligible_leads"] or 0),
        "decided": decided,
        "met": met,
        "breached": int(row["breached"] or 0),
        "compliance": met / decided if decided else None,
    }


def next_step(row: dict[str, Any]) -> tuple[str, str, str | None]:
    """(reason, what should happen next, who should do it) for a short-list row."""
    manager = row["manager_id"]
    assignee = row["task_assignee_id"]
    owner = row["owner_id"]
    if row["status"] == "held":
        hold = row["hold_reason"]
        if hold == "consent_unclear":
            return (
                "held: consent unclear",
                "confirm the buyer's consent, then set it on the lead",
                assignee or manager,
            )
        if hold == "ownership_conflict":
            return (
                "held: ownership conflict",
                "decide who owns the lead and assign them",
                assignee or manager,
            )
        return ("held", "end the hold (consent or owner) so the lead can be answered", manager)
    if row["status"] == "breached":
        reason = f"breached: {row['breach_reason'] or 'unknown'}"
        if row["task_type"] == "sla.review_requested" or row["in_review"]:
            step, who = "review the breach and get the buyer answered", assignee or manager
        elif owner is None:
            step, who = "assign an owner to answer the buyer now", assignee or manager
        elif int(row["escalation_level"] or 0) >= 2:
            step, who = "get the buyer answered now or reassign (escalated twice)", manager
        elif int(row["escalation_level"] or 0) == 1:
            step, who = "answer the buyer now (escalated)", assignee or owner
        else:
            step, who = "answer the buyer now", owner
        if row["apology_review_required"]:
            step += "; an auto-reply went out: check it first"
        return reason, step, who
    if row["stale"]:
        return (
            "stale high-intent lead",
            "call the buyer today: a high-intent lead is going cold",
            owner or manager,
        )
    return ("no owner", "assign an owner to answer the buyer now", manager)


def resolve_now(store: Store, now: str | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now == "latest":
        rows = store.query("SELECT MAX(fact_at) AS latest FROM lead_facts")
        latest = rows[0]["latest"] if rows else None
        return latest if isinstance(latest, datetime) else datetime.now(UTC)
    from leadsla.domain.instant import parse_rfc3339_datetime  # what --now means everywhere

    return parse_rfc3339_datetime(now).astimezone(UTC)


def build_report(store: Store, now: datetime, limit: int | None = None) -> dict[str, Any]:
    """Every figure of the report, as the JSON form (see :class:`report_schema.Report`)."""
    q = store.query
    timezone = store.meta("timezone") or "UTC"

    short: list[dict[str, Any]] = []
    for row in q(
        "SELECT * FROM short_list WHERE created_at <= ? ORDER BY created_at, lead_id",
        (store.param_ts(now),),
    ):
        reason, step, who = next_step(row)
        short.append(
            {
                "lead_id": row["lead_id"],
                "source": row["source"],
                "priority": row["priority"],
                "owner_id": row["owner_id"],
                "backup_owner_id": row["backup_owner_id"],
                "manager_id": row["manager_id"],
                "created_at": utc_text(row["created_at"]),
                "age_seconds": (now - row["created_at"]).total_seconds(),
                "status": row["status"],
                "reason": reason,
                "next_step": step,
                "next_step_by": who,
                "escalation_level": int(row["escalation_level"] or 0),
                "apology_review_required": bool(row["apology_review_required"]),
            }
        )

    start = now - WEEK
    week_rows = q(
        "SELECT lead_id, breach_reason, resolution_note, resolved_by FROM breaches "
        "WHERE breached_at > ? AND breached_at <= ? ORDER BY breached_at, lead_id",
        (store.param_ts(start), store.param_ts(now)),
    )
    by_reason: dict[str, dict[str, Any]] = {}
    for row in week_rows:
        key = row["breach_reason"] or "(unknown)"
        entry = by_reason.setdefault(
            key, {"breach_reason": key, "breaches": 0, "resolved": 0, "notes": []}
        )
        entry["breaches"] += 1
        if row["resolution_note"] is not None:
            entry["resolved"] += 1
            entry["notes"].append(
                {
                    "lead_id": row["lead_id"],
                    "resolution_note": row["resolution_note"],
                    "resolved_by": row["resolved_by"],
                }
            )
    review = {
        "start": utc_text(start),
        "end": utc_text(now),
        "breaches": len(week_rows),
        "by_reason": sorted(by_reason.values(), key=lambda e: (-e["breaches"], e["breach_reason"])),
    }

    by_source = [
        {"source": r["source"], **_compliance(r)}
        for r in q("SELECT * FROM compliance_by_source ORDER BY source")
    ]
    by_owner = [
        {"owner_id": r["owner_id"], **_compliance(r)}
        for r in q("SELECT * FROM compliance_by_owner ORDER BY owner_id")
    ]
    by_day = [
        {"day": str(r["day"]), **_compliance(r)}
        for r in q("SELECT * FROM compliance_by_day ORDER BY day")
    ]
    overall = _compliance(
        {
            key: sum(int(r[key]) for r in by_source)
            for key in ("leads", "eligible_leads", "decided", "met", "breached")
        }
    )
    pct = q("SELECT * FROM response_time_percentiles")[0]
    distribution = []
    bucket_sql = ", ".join(
        f"SUM(CASE WHEN response_seconds >= {lo!r}"
        + (f" AND response_seconds < {hi!r}" if hi is not None else "")
        + f" THEN 1 ELSE 0 END) AS b{i}"
        for i, (_, lo, hi) in enumerate(BUCKETS)
    )
    counts = q(f"SELECT {bucket_sql} FROM first_response_times")[0]
    for i, (label, lo, hi) in enumerate(BUCKETS):
        distribution.append(
            {
                "label": label,
                "lower_seconds": lo,
                "upper_seconds": hi,
                "responses": int(counts[f"b{i}"] or 0),
            }
        )
    warned = q("SELECT SUM(warned) AS total FROM pre_breach_warnings")[0]["total"]
    reasons = [
        {
            "breach_reason": r["breach_reason"],
            "breaches": int(r["breaches"]),
            "resolved": int(r["resolved"]),
        }
        for r in q("SELECT * FROM breaches_by_reason ORDER BY breaches DESC, breach_reason")
    ]
    stale = [
        {
            "lead_id": r["lead_id"],
            "source": r["source"],
            "owner_id": r["owner_id"],
            "manager_id": r["manager_id"],
            "created_at": utc_text(r["created_at"]),
            "age_seconds": (now - r["created_at"]).total_seconds(),
            "status": r["status"],
        }
        for r in q(
            "SELECT * FROM stale_high_intent_open WHERE created_at <= ? "
            "ORDER BY created_at, lead_id",
            (store.param_ts(now),),
        )
    ]
    meeting = q("SELECT * FROM meeting_rate_after_escalation")[0]
    escalated = int(meeting["escalated_leads"] or 0)
    meetings = int(meeting["meetings"] or 0)
    exclusion = [
        {
            "owner_id": r["owner_id"],
            "leads": int(r["leads"]),
            "excluded": int(r["excluded"]),
            "rate": int(r["excluded"]) / int(r["leads"]),
        }
        for r in q("SELECT * FROM exclusion_rate_by_owner ORDER BY owner_id")
    ]
    cov = q("SELECT * FROM coverage")[0]
    total = len(short)
    return {
        "generated_at": utc_text(now),
        "timezone": timezone,
        "short_list": short if limit is None else short[:limit],
        "short_list_total": total,
        "breach_review": review,
        "compliance_overall": overall,
        "compliance_by_source": by_source,
        "compliance_by_owner": by_owner,
        "compliance_by_day": by_day,
        "first_responses": int(pct["responses"] or 0),
        "median_first_response_seconds": pct["median_seconds"],
        "p90_first_response_seconds": pct["p90_seconds"],
        "response_time_distribution": distribution,
        "pre_breach_warnings": int(warned or 0),
        "breaches_by_reason": reasons,
        "stale_high_intent_open": stale,
        "meeting_rate_after_escalation": {
            "escalated": escalated,
            "meetings": meetings,
            "rate": meetings / escalated if escalated else None,
        },
        "exclusion_rate_by_owner": exclusion,
        "coverage": {
            "leads_seen": int(cov["leads_seen"] or 0),
            "leads_created": int(cov["leads_created"] or 0),
            "leads_without_created": int(cov["leads_without_created"] or 0),
            "dead_letters": int(cov["dead_letters"] or 0),
        },
    }


# --------------------------------------------------------------------------- text


def duration(seconds: float | None) -> str:
    """``3d 4h``, ``2h 05m``, ``12m``, ``40s``: an age or a response time for a person."""
    if seconds is None:
        return "-"
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400}d {s % 86400 // 3600}h"
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m"
    return f"{s}s"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _compliance_rows(rows: list[dict[str, Any]], key: str) -> list[list[object]]:
    return [
        [r[key], r["eligible_leads"], r["met"], r["breached"], percent(r["compliance"])]
        for r in rows
    ]


def render_table(report: dict[str, Any]) -> str:
    out: list[str] = []
    shown = report["short_list"]
    total = report["short_list_total"]
    out.append(
        f"SHORT LIST: leads that need a person now ({total}, oldest first; "
        f"as of {report['generated_at']})"
    )
    out.append(
        _table(
            ["lead", "source", "owner", "backup", "age", "reason", "next step", "by"],
            [
                [
                    r["lead_id"],
                    r["source"],
                    r["owner_id"],
                    r["backup_owner_id"],
                    duration(r["age_seconds"]),
                    r["reason"],
                    r["next_step"],
                    r["next_step_by"],
                ]
                for r in shown
            ],
        )
    )
    if total > len(shown):
        out.append(f"... and {total - len(shown)} more (--limit N, or --format json/csv for all)")
    review = report["breach_review"]
    out.append("")
    out.append(
        f"BREACH REVIEW: {review['breaches']} breaches from {review['start']} to {review['end']}"
    )
    out.append(
        _table(
            ["reason", "breaches", "resolved"],
            [[r["breach_reason"], r["breaches"], r["resolved"]] for r in review["by_reason"]],
        )
    )
    for r in review["by_reason"]:
        for note in r["notes"]:
            out.append(
                f"  {r['breach_reason']}: {note['lead_id']}: {note['resolution_note']} "
                f"({note['resolved_by'] or '-'})"
            )
    overall = report["compliance_overall"]
    out.append("")
    out.append(
        f"COMPLIANCE: {percent(overall['compliance'])} met within SLA "
        f"({overall['met']} of {overall['decided']} decided); first response median "
        f"{duration(report['median_first_response_seconds'])}, p90 "
        f"{duration(report['p90_first_response_seconds'])}; "
        f"{report['pre_breach_warnings']} pre-breach warnings"
    )
    headers = ["eligible", "met", "breached", "compliance"]
    out.append(
        _table(["source", *headers], _compliance_rows(report["compliance_by_source"], "source"))
    )
    out.append("")
    out.append(
        _table(["owner", *headers], _compliance_rows(report["compliance_by_owner"], "owner_id"))
    )
    meeting = report["meeting_rate_after_escalation"]
    cov = report["coverage"]
    out.append("")
    out.append(
        f"stale high-intent leads open now: {len(report['stale_high_intent_open'])}; "
        f"meeting or conversation after escalation: {percent(meeting['rate'])} "
        f"({meeting['meetings']} of {meeting['escalated']}); coverage: "
        f"{cov['leads_created']} leads created of {cov['leads_seen']} seen, "
        f"{cov['dead_letters']} dead letters"
    )
    return "\n".join(out) + "\n"


def render_csv(report: dict[str, Any], section: str) -> str:
    rows = report[section]
    buffer = io.StringIO()
    if not rows:
        return ""
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:24px;
color:#1d2733;background:#f6f7f9}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.sub{color:#5b6776;font-size:13px}
.tiles{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.tile{background:#fff;border:1px solid #dde2e8;border-radius:8px;padding:10px 16px;min-width:150px}
.tile b{display:block;font-size:22px}.tile span{color:#5b6776;font-size:12px}
table{border-collapse:collapse;background:#fff;font-size:13px;width:100%}
th,td{border-bottom:1px solid #e6e9ee;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.card{background:#fff;border:1px solid #dde2e8;border-radius:8px;padding:12px;margin-bottom:8px}
.bad{color:#b42318;font-weight:600}.warn{color:#b54708}.ok{color:#067647}
.more{color:#5b6776;font-size:12px;margin-top:4px}
table.short td:nth-child(-n+5),table.short td:last-child{white-space:nowrap}
.legend{color:#5b6776;font-size:12px;margin:4px 0 0}
.legend i{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;border-radius:2px}
"""


def _esc(value: object) -> str:
    return html.escape("-" if value is None else str(value))


def _html_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    numeric: Sequence[int] = (),
    css_class: str = "",
) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="n">{_esc(c)}</td>' if i in numeric else f"<td>{_esc(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    attr = f' class="{css_class}"' if css_class else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def svg_compliance_by_day(days: list[dict[str, Any]]) -> str:
    """Bars: compliance per day (0-100%), with a line at the overall rate's 80% guide."""
    width, height, left, bottom, top = 900, 240, 44, 36, 12
    plot_w, plot_h = width - left - 10, height - bottom - top
    points = [d for d in days if d["compliance"] is not None]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="chart-compliance" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" '
        f'aria-label="SLA compliance per day">'
    ]
    for pct in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - pct / 100)
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e1e5ea"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#5b6776">{pct}%</text>'
        )
    if points:
        step = plot_w / len(points)
        bar = max(1.0, step * 0.8)
        label_every = max(1, len(points) // 12)
        for i, d in enumerate(points):
            value = float(d["compliance"])
            h = plot_h * value
            x = left + i * step + (step - bar) / 2
            color = "#067647" if value >= 0.9 else "#dc6803" if value >= 0.75 else "#b42318"
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{_esc(d["day"])}: '
                f"{percent(value)} ({d['met']} of {d['decided']})</title></rect>"
            )
            if i % label_every == 0:
                parts.append(
                    f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" font-size="10" '
                    f'text-anchor="middle" fill="#5b6776">{_esc(d["day"][5:])}</text>'
                )
    else:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#5b6776">'
            "no decided leads yet</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def svg_distribution(buckets: list[dict[str, Any]]) -> str:
    """Bars: how many first responses fell into each time bucket."""
    width, height, left, bottom, top = 900, 220, 44, 36, 16
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max((b["responses"] for b in buckets), default=0) or 1
    step = plot_w / max(1, len(buckets))
    bar = step * 0.7
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="chart-distribution" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" '
        f'aria-label="First response time distribution">'
    ]
    parts.append(
        f'<line x1="{left}" x2="{width - 10}" y1="{top + plot_h}" y2="{top + plot_h}" '
        'stroke="#98a2b3"/>'
    )
    for i, b in enumerate(buckets):
        h = plot_h * b["responses"] / peak
        x = left + i * step + (step - bar) / 2
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" '
            f'height="{h:.1f}" fill="#2e90fa"><title>{_esc(b["label"])}: {b["responses"]}'
            "</title></rect>"
            f'<text x="{x + bar / 2:.1f}" y="{top + plot_h - h - 4:.1f}" font-size="11" '
            f'text-anchor="middle" fill="#1d2733">{b["responses"]}</text>'
            f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" font-size="11" '
            f'text-anchor="middle" fill="#5b6776">{_esc(b["label"])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _human_time(text: str) -> str:
    """``2027-02-15T13:17:51.601Z`` -> ``2027-02-15 13:17 UTC``."""
    return f"{text[:10]} {text[11:16]} UTC"


def render_html(report: dict[str, Any]) -> str:
    overall = report["compliance_overall"]
    meeting = report["meeting_rate_after_escalation"]
    cov = report["coverage"]
    total = report["short_list_total"]
    shown = report["short_list"]
    tiles = [
        (percent(overall["compliance"]), "met within SLA (eligible, decided)"),
        (duration(report["median_first_response_seconds"]), "median first response"),
        (duration(report["p90_first_response_seconds"]), "p90 first response"),
        (str(total), "leads on the short list"),
        (str(len(report["stale_high_intent_open"])), "stale high-intent leads open"),
        (str(report["pre_breach_warnings"]), "pre-breach warnings"),
        (percent(meeting["rate"]), "meeting after escalation"),
    ]
    review = report["breach_review"]
    notes = "".join(
        f"<li><b>{_esc(r['breach_reason'])}</b> {_esc(n['lead_id'])}: "
        f"{_esc(n['resolution_note'])} ({_esc(n['resolved_by'])})</li>"
        for r in review["by_reason"]
        for n in r["notes"]
    )
    short_rows = [
        [
            r["lead_id"],
            r["source"],
            r["owner_id"],
            r["backup_owner_id"],
            duration(r["age_seconds"]),
            r["reason"],
            r["next_step"],
            r["next_step_by"],
        ]
        for r in shown
    ]
    more = (
        f'<p class="more">... and {total - len(shown)} more (lead-sla report --format csv '
        "lists them all)</p>"
        if total > len(shown)
        else ""
    )
    comp_headers = ["eligible", "met", "breached", "compliance"]
    sections = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Lead response SLA report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Lead response SLA report</h1>",
        f'<p class="sub">As of {_esc(_human_time(report["generated_at"]))}; days in '
        f"{_esc(report['timezone'])}. Compliance = leads answered meaningfully within the SLA "
        "out of eligible leads that were answered or breached.</p>",
        '<div class="tiles">'
        + "".join(
            f'<div class="tile"><b>{_esc(v)}</b><span>{_esc(t)}</span></div>' for v, t in tiles
        )
        + "</div>",
        f"<h2>Short list: leads that need a person now ({total}, oldest first)</h2>",
        _html_table(
            ["lead", "source", "owner", "backup", "age", "reason", "next step", "who"],
            short_rows,
            css_class="short",
        )
        if short_rows
        else '<p class="ok">Nothing waiting: every lead is answered, excluded or on time.</p>',
        more,
        "<h2>SLA compliance per day</h2>",
        f'<div class="card">{svg_compliance_by_day(report["compliance_by_day"])}'
        '<p class="legend">day the lead came in:<i style="background:#067647"></i>90% or more'
        '<i style="background:#dc6803"></i>75-90%<i style="background:#b42318"></i>below 75%'
        "</p></div>",
        "<h2>First meaningful response time</h2>",
        f'<div class="card">{svg_distribution(report["response_time_distribution"])}</div>',
        f"<h2>This week's breach review ({review['breaches']} breaches)</h2>",
        _html_table(
            ["reason", "breaches", "resolved"],
            [[r["breach_reason"], r["breaches"], r["resolved"]] for r in review["by_reason"]],
            numeric=(1, 2),
        ),
        f"<ul>{notes}</ul>" if notes else "",
        "<h2>Compliance by source</h2>",
        _html_table(
            ["source", *comp_headers],
            _compliance_rows(report["compliance_by_source"], "source"),
            numeric=(1, 2, 3, 4),
        ),
        "<h2>Compliance by owner</h2>",
        _html_table(
            ["owner", *comp_headers],
            _compliance_rows(report["compliance_by_owner"], "owner_id"),
            numeric=(1, 2, 3, 4),
        ),
        "<h2>Exclusions by owner</h2>",
        _html_table(
            ["owner", "leads", "excluded", "rate"],
            [
                [r["owner_id"], r["leads"], r["excluded"], percent(r["rate"])]
                for r in report["exclusion_rate_by_owner"]
            ],
            numeric=(1, 2, 3),
        ),
        "<h2>Breaches by reason (all time)</h2>",
        _html_table(
            ["reason", "breaches", "resolved"],
            [
                [r["breach_reason"], r["breaches"], r["resolved"]]
                for r in report["breaches_by_reason"]
            ],
            numeric=(1, 2),
        ),
        f'<p class="sub">Coverage: {cov["leads_created"]} leads created of {cov["leads_seen"]} '
        f"seen; {cov['dead_letters']} inputs dead-lettered.</p>",
        "</body></html>",
    ]
    return "\n".join(s for s in sections if s) + "\n"


# --------------------------------------------------------------------------- the command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=DEFAULT_DB, metavar="URL", help="the read-model database")
    parser.add_argument(
        "--format",
        choices=("table", "json", "csv", "html"),
        default="table",
        dest="fmt",
        help="table (text, default), json (every figure; schemas/json/report.schema.json), csv "
        "(one --section) or html (one self-contained page with charts)",
    )
    parser.add_argument(
        "--now",
        metavar="T",
        help="RFC 3339 instant ages and the week are measured from, or 'latest' (the latest "
        "projected fact); default: the wall clock",
    )
    parser.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help=f"short-list entries shown (table/html default {DEFAULT_TABLE_LIMIT}; json/csv: all)",
    )
    parser.add_argument(
        "--section", choices=CSV_SECTIONS, default="short_list", help="csv: which table"
    )
    parser.add_argument(
        "--out", metavar="FILE", help="write to FILE instead of standard output ('-': the same)"
    )
    parser.add_argument(
        "--write-schema",
        metavar="FILE",
        help="write the JSON Schema of the json form to FILE ('-': standard output) and exit",
    )


def run(args: argparse.Namespace) -> int:
    def fail(message: str, code: int = 2) -> int:
        sys.stderr.write(f"lead-sla report: {message}\n")
        return code

    from leadsla.outputs import OutputError, check_output, open_output

    if args.write_schema:
        try:
            with open_output(args.write_schema) as stream:  # whole or not at all; '-': stdout
                stream.write(report_schema_document())
        except OutputError as exc:
            return fail(str(exc))
        return 0
    if args.out and args.db.startswith("sqlite:"):
        from .store import sqlite_path

        try:  # before anything is read: the output must never be the database read from
            check_output(args.out, [sqlite_path(args.db)])
        except OutputError as exc:
            return fail(str(exc))
    limit = args.limit
    if limit is None and args.fmt in ("table", "html"):
        limit = DEFAULT_TABLE_LIMIT
    if args.db.startswith("sqlite:"):
        from .store import sqlite_path

        if not Path(sqlite_path(args.db)).is_file():
            return fail(f"no read models in {mask_url(args.db)}: run lead-sla project first")
    try:
        with Store(args.db) as store:
            if "lead_facts" not in store.existing_tables():
                return fail(f"no read models in {store.masked_url}: run lead-sla project first")
            try:
                now = resolve_now(store, args.now)
            except ValueError as exc:
                return fail(f"bad --now: {exc}")
            report = build_report(store, now, limit)
    except StoreError as exc:
        return fail(str(exc))
    except Exception as exc:
        from .store import _scrub

        return fail(
            f"failed on {mask_url(args.db)}: {type(exc).__name__}: {_scrub(str(exc), args.db)}", 1
        )
    if args.fmt == "json":
        Report.model_validate(report)  # the published schema is what we write
        text = orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n"
    elif args.fmt == "csv":
        text = render_csv(report, args.section)
    elif args.fmt == "html":
        text = render_html(report)
    else:
        text = render_table(report)
    if args.out and args.out != "-":
        try:
            with open_output(args.out) as stream:  # whole or not at all
                stream.write(text.encode("utf-8"))
        except OutputError as exc:
            return fail(str(exc), 2)
    else:
        sys.stdout.write(text)
    return 0
