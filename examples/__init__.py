"""Runnable examples of agent-safe (``python -m examples.k8s_agent``)."""
