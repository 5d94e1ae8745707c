"""tensorjit.runtime"""
