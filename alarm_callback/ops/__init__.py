"""Operator tools: the command line, the test sender, the JSON Schema generator."""
