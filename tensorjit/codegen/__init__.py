"""tensorjit.codegen"""
