"""The OpenAI Agents SDK example agent, gated by agent-safe (see demo.py)."""
