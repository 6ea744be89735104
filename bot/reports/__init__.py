"""Reports people open: KPI tables, spreadsheets and charts, and the dues ledger workbook."""
