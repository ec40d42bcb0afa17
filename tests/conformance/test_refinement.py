"""Stateful refinement tests with every fault on: the reference refines the model."""

from __future__ import annotations

from hypothesis import settings

from kafka_eos.model.configs import load_check_config
from kafka_eos.model.params import Knobs

from .machine import refinement_machine
from .workloads import IDEMPOTENT_WRITES, TRANSACTIONS, model

_STEPS = settings(stateful_step_count=40)

TransactionsTV2 = refinement_machine(model(TRANSACTIONS))
TransactionsTV2.TestCase.settings = _STEPS
TestTransactionsTV2 = TransactionsTV2.TestCase

TransactionsTV1 = refinement_machine(model(TRANSACTIONS, knobs=Knobs(transaction_version=1)))
TransactionsTV1.TestCase.settings = _STEPS
TestTransactionsTV1 = TransactionsTV1.TestCase

Idempotent = refinement_machine(model(IDEMPOTENT_WRITES, knobs=Knobs(producer_state_expiry=False)))
Idempotent.TestCase.settings = _STEPS
TestIdempotent = Idempotent.TestCase


Ctp = refinement_machine(model(load_check_config("ctp").model.workload))
Ctp.TestCase.settings = _STEPS
TestConsumeTransformProduce = Ctp.TestCase
