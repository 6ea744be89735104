"""A small company on a temporary SQLite file, driven through the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, select
from typer.testing import CliRunner, Result

from bot.cli import app

TODAY = "2026-11-20"
"""Shanghai's and Beijing's November dues fell due on 2026-11-16: four days overdue."""
COVERWATCH = Path(sys.executable).with_name("coverwatch")

EMPLOYEES = """\
employee_id,name,department,manager_id,account,hire_date,enrolled_on,salary,role,locale,id_number
H001,王芳,人力资源部,,beijing,2020-01-06,2020-01-06,30000,hr,,110105199001011234
M001,李伟,研发部,,beijing,2019-03-01,2019-03-01,50000,manager,,
E001,张三,研发部,M001,beijing,2021-05-10,2021-05-10,20000,employee,,110105199202023456
E002,李四,销售部,M001,shanghai,2022-02-01,2022-02-01,15000,employee,,
E003,Karen Chan,香港业务部,M001,hk,2023-01-01,2023-01-01,30000,employee,en,
"""


def cli(url: str, *args: str, input: str | None = None) -> Result:
    """`coverwatch --db URL --today TODAY ARGS` in-process."""
    return CliRunner().invoke(app, ["--db", url, "--today", TODAY, *args], input=input)


def script(
    *args: str, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The installed `coverwatch` console script itself."""
    return subprocess.run(
        [str(COVERWATCH), *args], input=input, capture_output=True, text=True, timeout=timeout
    )


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def company(url: str, folder: Path) -> None:
    """init + the five employees above."""
    assert cli(url, "init").exit_code == 0
    result = cli(url, "import", "employees", str(write(folder, "employees.csv", EMPLOYEES)))
    assert result.exit_code == 0, result.output


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: "the database is unchanged" means this is equal."""
    engine = create_engine(url)
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        return {
            name: sorted(tuple(map(str, row)) for row in connection.execute(select(table)))
            for name, table in metadata.tables.items()
        }
