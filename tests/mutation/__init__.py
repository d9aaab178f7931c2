"""Mutation gate for the SQL models (`make mutate`, docs/mutation.md).

generate.py makes the mutants of a model, run.py builds each into a copy of a prebuilt
warehouse and runs the project's metric tests against it. Not part of `make test`.
"""
