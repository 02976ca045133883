"""``ragbot serve``: the HTTP API (OpenAI-compatible chat, ask, documents), MCP, and the page, in one process.

Everything here runs on one ``RagbotUI`` (ui.handlers): the page, the API and the MCP tools share one
index, one loaded model and one ingestion lock. FastAPI, uvicorn and mcp load only when serving.
"""
