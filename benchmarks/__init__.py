"""`make bench`: the performance harness of issue 6 (python -m benchmarks [--smoke]).

Every figure is a median over several runs with its spread, and every goal is a ratio
against a baseline measured in the same run, interleaved with the subject (the machine is
shared, so absolute times drift). Sections: cold start, warm cost per callback, local
server throughput, deployment size, memory.
"""
