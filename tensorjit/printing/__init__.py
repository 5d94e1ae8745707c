"""tensorjit.printing"""
