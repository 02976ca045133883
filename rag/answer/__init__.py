"""Answering: condense, score, select or generate, verify, compose (the stages after the gate)."""
