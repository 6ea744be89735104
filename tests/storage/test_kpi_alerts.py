"""`kpi_below_target`: opened per department and month below target, deduped, resolved."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import select

from core.policy_loader import load_policies
from storage.db import session_scope
from storage.kpi_alerts import run_kpi_alerts
from storage.models import Alert, Delivery
from storage.outbox import AlertPayload, decode_payload
from storage.routing import Routing
from tests.support.kpi_company import AS_OF, ZONE, seed

ROUTING = Routing(platforms=("slack", "wecom"))
TARGETS = {"on_time": Decimal("0.95"), "enrollment": Decimal("0.9")}


def _run(engine: Engine, thresholds: dict[str, Decimal]) -> tuple[int, int, int]:
    report = run_kpi_alerts(
        engine,
        now=AS_OF,
        timezone=ZONE,
        policies=load_policies(),
        thresholds=thresholds,
        sla_minutes=60,
        routing=ROUTING,
    )
    return len(report.opened), len(report.updated), len(report.resolved)


def _kpi_alerts(engine: Engine) -> dict[str, tuple[str, str]]:
    with session_scope(engine) as session:
        query = select(Alert).where(Alert.kind == "kpi_below_target")
        return {a.dedupe_key: (a.state, a.notified_stage or "") for a in session.exec(query)}


def test_departments_below_target_open_alerts_for_their_managers(engine: Engine) -> None:
    seed(engine)
    # Eng: March enrolment 1/3; every department: April and May paid late or short.
    assert _run(engine, TARGETS) == (7, 0, 0)
    alerts = _kpi_alerts(engine)
    assert alerts["kpi_below_target|department=Eng|period=2025-03"] == ("open", "enrollment")
    assert alerts["kpi_below_target|department=Sales|period=2025-05"] == ("open", "on_time")
    assert "kpi_below_target|department=Sales|period=2025-03" not in alerts  # March paid on time
    with session_scope(engine) as session:
        sent = {
            (d.employee_id, d.platform, d.address)
            for d in session.exec(select(Delivery))
            if isinstance(decode_payload(d.payload), AlertPayload)
        }
    # Eng's manager on Slack, Sales' manager on WeCom, HR on Slack; no one else.
    assert {who for who, _, _ in sent} == {"M1", "M2", "H1"}
    assert ("M2", "wecom", "lisi") in sent and ("M1", "slack", "UM1") in sent


def test_a_second_run_updates_and_back_above_target_resolves(engine: Engine) -> None:
    seed(engine)
    _run(engine, TARGETS)
    with session_scope(engine) as session:
        deliveries = len(session.exec(select(Delivery)).all())
    assert _run(engine, TARGETS) == (0, 7, 0)
    with session_scope(engine) as session:
        assert len(session.exec(select(Delivery)).all()) == deliveries  # nothing sent twice
    assert _run(engine, {"on_time": Decimal("0.0")}) == (0, 0, 7)
    assert {state for state, _ in _kpi_alerts(engine).values()} == {"resolved"}
