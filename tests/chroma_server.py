"""The tests start Chroma servers with the same helper the server benchmark uses."""
from eval.chroma_server import ChromaServer

__all__ = ["ChromaServer"]
