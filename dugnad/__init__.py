"""Dugnad's domain: models and the operations views call (no HTTP here)."""
