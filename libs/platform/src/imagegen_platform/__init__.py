"""Plumbing every imagegen service shares; no business rules live here."""
