"""agent-safe with LangGraph: a Kubernetes agent whose every tool call is checked first.

``python -m examples.k8s_agent --help``; see docs/LANGGRAPH.md. The
Kubernetes API it talks to is simulated unless ``--kubeconfig`` names a real
cluster, and its model is scripted unless ``--model`` names a real one.
"""
