"""Test machinery: fault injection, Tencent delivery simulator, chaos run. Never shipped in a function package."""
