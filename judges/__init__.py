"""LLM-as-judge and RAGAS scorers."""
