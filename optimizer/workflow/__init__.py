"""Workflow: compare, sweep, demo, jobs that string the layers together."""
