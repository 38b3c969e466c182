"""`import agent_safe` must not import LangChain; `agent_safe.langchain` is opt-in."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_import_agent_safe_does_not_import_langchain() -> None:
    code = (
        "import sys, agent_safe\n"
        "heavy = ('langchain', 'langchain_core', 'langgraph')\n"
        "loaded = sorted(m for m in sys.modules\n"
        "                if m.split('.')[0] in heavy or m == 'agent_safe.langchain')\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_agent_safe_langchain_imports_with_the_extra() -> None:
    pytest.importorskip("langchain.agents", reason="needs the `langchain` extra")
    from agent_safe.langchain import AgentSafeMiddleware
    from langchain.agents.middleware import AgentMiddleware

    assert issubclass(AgentSafeMiddleware, AgentMiddleware)
    # Both hooks are overridden: with only one, the other invocation mode raises.
    assert AgentSafeMiddleware.wrap_tool_call is not AgentMiddleware.wrap_tool_call
    assert AgentSafeMiddleware.awrap_tool_call is not AgentMiddleware.awrap_tool_call
