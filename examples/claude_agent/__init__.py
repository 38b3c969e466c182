"""The Claude Agent SDK example agent, gated by agent-safe (see demo.py)."""
