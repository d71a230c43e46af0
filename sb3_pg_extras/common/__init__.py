"""Pieces shared by two or more algorithms of sb3_pg_extras."""
