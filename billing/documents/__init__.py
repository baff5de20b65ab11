"""Rendering documents (statements, credit notes, payroll files) from their frozen content.

Imports `billing.domain` only: no database, no clock, no network. Every function here is a
pure function of its input, so the same document always gives the same bytes.
"""
