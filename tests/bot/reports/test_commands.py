"""`coverwatch kpi` and `coverwatch report dues` through the real CLI on the hand-built company."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image
from typer.testing import CliRunner, Result

from bot.cli import app
from core.locales import ZH_CN
from tests.support.databases import Migrated
from tests.support.kpi_company import seed

TODAY = "2025-05-31"
CNY = '#,##0.00 "CNY"'


@pytest.fixture
def url(sqlite_url: str, migrated: Migrated) -> str:
    engine = migrated(sqlite_url)
    seed(engine)
    engine.dispose()
    return sqlite_url


def cli(url: str, *args: str, locale: str = "en") -> Result:
    env = {"COVERWATCH_BOT__LOCALE": locale}
    return CliRunner().invoke(app, ["--db", url, "--today", TODAY, *args], env=env)


def test_kpi_json_has_the_contracts_strings(url: str) -> None:
    result = cli(url, "kpi", "--period", "2025-05", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["months"][0] == "2024-11" and len(document["months"]) == 7
    may = document["company"][-1]
    assert may["on_time_rate"] == "0.0000" and may["payment_accuracy"] == "0.0000"
    assert may["ack"] == {
        "acknowledged": 3,
        "mean_minutes": "60.0",
        "p90_minutes": "120.0",
        "within_sla": "0.5000",
    }
    assert may["money"] == [
        {
            "currency": "CNY",
            "arrears": "500.00",
            "late_fees_accrued": "4.00",
            "late_fees_paid": "0.00",
            "late_fees_accruing": "4.00",
            "provisional": False,
        }
    ]
    [eng] = [d for d in document["departments"] if d["department"] == "Eng"]
    assert eng["months"][-3]["enrollment_timeliness"] == "0.3333"  # March


def test_kpi_csv_and_table(url: str) -> None:
    rows = list(
        csv.DictReader(
            io.StringIO(cli(url, "kpi", "--period", "2025-05", "--format", "csv").output)
        )
    )
    assert len(rows) == 7 * (1 + 1 + 3)  # months × (company, beijing, three departments)
    april = next(r for r in rows if r["view"] == "Accounts" and r["Period"] == "2025-04")
    assert (
        april["On-time payment"],
        april["Late fees accrued (CNY)"],
        april["Late fees paid (CNY)"],
    ) == ("0.0000", "5.00", "3.00")
    table = cli(url, "kpi", "--period", "2025-05").output
    assert table.startswith("Company\n=======\n")
    assert "33.3%" in table  # Eng's March enrolment


def test_kpi_xlsx_reopens_with_sheets_values_and_formats(url: str, tmp_path: Path) -> None:
    out = tmp_path / "kpi.xlsx"
    result = cli(url, "kpi", "--period", "2025-05", "--format", "xlsx", "--out", str(out))
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    assert book.sheetnames == ["Company", "Accounts", "Departments"]
    sheet = book["Accounts"]
    assert sheet.freeze_panes == "A2"
    headers = [cell.value for cell in sheet[1]]
    may = next(row for row in sheet.iter_rows(min_row=2) if row[1].value == "2025-05")
    on_time = may[headers.index("On-time payment")]
    arrears = may[headers.index("Arrears (CNY)")]
    assert (on_time.value, on_time.number_format) == (0, "0.0%")
    assert (arrears.value, arrears.number_format) == (500, CNY)
    mean = may[headers.index("Mean minutes to acknowledge")]
    assert (mean.value, mean.number_format) == (30, "0.0")
    eng_march = next(
        row for row in book["Departments"].iter_rows(min_row=2)
        if (row[0].value, row[1].value) == ("Eng", "2025-03")
    )  # fmt: skip
    assert Decimal(str(eng_march[headers.index("Enrolment timeliness")].value)) == Decimal("0.3333")


def test_kpi_png_is_the_chart(url: str, tmp_path: Path) -> None:
    out = tmp_path / "kpi.png"
    result = cli(url, "kpi", "--period", "2025-05", "--format", "png", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (1200, 800)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--format", "xlsx"], "error: --format xlsx writes a file: add --out FILE\n"),
        (["--format", "pdf"], "error: --format: expected one of table, json, csv, xlsx, png"),
        (["--out", "kpi.pdf"], "error: --out kpi.pdf: cannot tell the format from the suffix"),
        (["--format", "csv", "--out", "k.xlsx"], "error: --format csv does not match --out k.xlsx"),
    ],
)
def test_kpi_usage_errors_are_one_line(url: str, args: list[str], reason: str) -> None:
    result = cli(url, "kpi", "--period", "2025-05", *args)
    assert result.exit_code == 1
    assert result.output.startswith(reason)


def test_report_dues_writes_ledger_and_subtotals(url: str, tmp_path: Path) -> None:
    out = tmp_path / "dues.xlsx"
    result = cli(
        url, "report", "dues", "--period", "2025-05", "--format", "xlsx,csv", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    assert book.sheetnames == ["Ledger", "Accounts"]
    ledger = [[cell.value for cell in row] for row in book["Ledger"].iter_rows()]
    assert ledger[0][:7] == [
        "Row",
        "Account",
        "Currency",
        "Employee ID",
        "Name",
        "Department",
        "Scheme",
    ]
    assert [row[3] for row in ledger[1:4]] == ["A1", "A2", "B1"]
    assert ledger[4][0] == "subtotal" and ledger[4][-3:] == [1500, 500, 2000]
    subtotal = book["Ledger"]["K5"]
    assert subtotal.font.bold and subtotal.number_format == CNY
    assert book["Ledger"].freeze_panes == "A2"
    assert [c.value for c in book["Accounts"][2]] == [
        "beijing",
        "Beijing",
        "CNY",
        "2025-05-15",
        3,
        2000,
        0,
        2000,
    ]
    raw = (tmp_path / "dues.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[1] == "line,beijing,CNY,A1,A1,Eng,Pension,10000.00,800.00,200.00,1000.00"
    assert lines[-1] == "subtotal,beijing,CNY,,,,,,1500.00,500.00,2000.00"


def test_report_dues_without_a_dues_run_says_what_to_do(url: str, tmp_path: Path) -> None:
    result = cli(url, "report", "dues", "--period", "2025-06", "--out", str(tmp_path / "x.csv"))
    assert result.exit_code == 1
    assert result.output == (
        "error: no dues stored for 2025-06: run `coverwatch dues --period 2025-06` first\n"
    )
    assert not (tmp_path / "x.csv").exists()


def test_kpi_out_suffix_picks_the_format(url: str, tmp_path: Path) -> None:
    out = tmp_path / "kpi.xlsx"
    result = cli(url, "kpi", "--period", "2025-05", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert load_workbook(out).sheetnames == ["Company", "Accounts", "Departments"]
    result = cli(url, "kpi", "--period", "2025-05", "--out", str(tmp_path / "kpi.json"))
    assert json.loads((tmp_path / "kpi.json").read_text(encoding="utf-8"))["period"] == "2025-05"


def test_zh_cn_reports_have_chinese_headers_and_a_bom(url: str, tmp_path: Path) -> None:
    out = tmp_path / "kpi.csv"
    assert cli(url, "kpi", "--period", "2025-05", "--out", str(out), locale=ZH_CN).exit_code == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = raw.decode("utf-8-sig").splitlines()[0].split(",")
    assert header[:4] == ["视图", "名称", "月份", "按时缴费率"]  # not 姓名: a person's name
    assert "欠缴（CNY）" in header
    dues = tmp_path / "dues.xlsx"
    assert cli(url, "report", "dues", "--period", "2025-05", "--out", str(dues), locale=ZH_CN)
    book = load_workbook(dues)
    assert book.sheetnames == ["缴费明细", "参保地"]
    ledger = [[cell.value for cell in row] for row in book["缴费明细"].iter_rows()]
    assert ledger[0][:7] == ["行类型", "参保地", "币种", "工号", "姓名", "部门", "险种"]
    assert ledger[1][0] == "明细" and ledger[1][6] == "养老保险"
    assert ledger[4][0] == "小计"
    assert book["缴费明细"]["K5"].number_format == CNY  # money formats follow the currency column


def test_the_accounts_sheet_uses_the_configured_account_name(url: str, tmp_path: Path) -> None:
    config = tmp_path / "coverwatch.toml"
    config.write_text('[accounts.beijing]\nname = "北京公司"\n', encoding="utf-8")
    out = tmp_path / "dues.xlsx"
    result = cli(
        url, "--config", str(config), "report", "dues", "--period", "2025-05", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert [c.value for c in load_workbook(out)["Accounts"][2]][:2] == ["beijing", "北京公司"]


@pytest.mark.parametrize(
    "args",
    [
        ["kpi", "--period", "2025-05", "--format", "png"],
        ["kpi", "--period", "2025-05", "--format", "csv"],
        ["report", "dues", "--period", "2025-05", "--format", "xlsx,csv"],
        ["report", "dues", "--period", "2025-05", "--format", "xlsx"],
    ],
)
def test_out_in_a_missing_directory_is_one_line(
    url: str, tmp_path: Path, args: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    suffix = "." + args[-1].split(",")[0]
    out = tmp_path / "nowhere" / f"report{suffix}"
    result = cli(url, *args, "--out", str(out))
    assert result.exit_code == 1
    assert result.output == f"error: --out {out}: no such directory {out.parent}\n"
    assert not out.parent.exists()
    assert "Traceback" not in capfd.readouterr().err  # openpyxl's half-written stream


@pytest.mark.parametrize(
    "args",
    [
        ["kpi", "--period", "2025-05", "--format", "json"],
        ["report", "dues", "--period", "2025-05", "--format", "csv"],
    ],
)
def test_out_naming_a_directory_is_one_line(url: str, tmp_path: Path, args: list[str]) -> None:
    result = cli(url, *args, "--out", str(tmp_path))
    assert result.exit_code == 1
    assert result.output == f"error: --out {tmp_path}: is a directory; name a file\n"
