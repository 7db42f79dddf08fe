"""Rendering: tables, JSON, CSV (and reports). Result objects never render themselves."""
