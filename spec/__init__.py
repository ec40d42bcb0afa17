"""The specification: prose (SPEC.md), named check configurations (configs/*.yaml) and the
verdict table (verdicts.yaml). Shipped as package data so an installed kafka-eos finds them."""
