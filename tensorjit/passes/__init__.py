"""tensorjit.passes"""
