"""Tables of ledger imports (台账导入) and data audits (数据核查). Filled by the import/audit work."""
