"""Pure notification rules: no I/O imports, only the standard library."""
