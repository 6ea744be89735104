"""All-or-nothing importers for the CLI's `import employees|payments|balances|salaries FILE`."""

from storage.imports.balances import import_balances
from storage.imports.employees import import_employees
from storage.imports.errors import ImportFileError, ImportResult, RowError
from storage.imports.payments import import_payments
from storage.imports.salaries import import_salaries

__all__ = [
    "ImportFileError",
    "ImportResult",
    "RowError",
    "import_balances",
    "import_employees",
    "import_payments",
    "import_salaries",
]
